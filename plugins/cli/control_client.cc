#include "plugins/cli/control_client.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vnas::cli {
namespace {

bool IsLoopback(absl::string_view endpoint) {
  return absl::StartsWith(endpoint, "127.") || absl::StartsWith(endpoint, "localhost:") ||
         absl::StartsWith(endpoint, "[::1]") || absl::StartsWith(endpoint, "unix:") ||
         absl::StartsWith(endpoint, "ipv4:127.");
}

absl::StatusCode ToAbsl(grpc::StatusCode code) {
  return static_cast<absl::StatusCode>(static_cast<int>(code));
}

// Value of trailing metadata `key`, or "".
std::string Trailer(const grpc::ClientContext* ctx, const std::string& key) {
  if (ctx == nullptr) return "";
  const auto& md = ctx->GetServerTrailingMetadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// "NAME_IN_CAPS: text" -> NAME, text.
bool SplitReason(absl::string_view msg, std::string* name, std::string* text) {
  const size_t colon = msg.find(": ");
  if (colon == absl::string_view::npos || colon == 0) return false;
  for (char c : msg.substr(0, colon)) {
    if (!(absl::ascii_isupper(c) || absl::ascii_isdigit(c) || c == '_')) return false;
  }
  *name = std::string(msg.substr(0, colon));
  *text = std::string(msg.substr(colon + 2));
  return true;
}

}  // namespace

std::unique_ptr<ControlClient> ControlClient::Connect(const std::string& endpoint,
                                                      const std::string& token,
                                                      absl::Duration timeout,
                                                      const std::string& tls_ca_pem) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (IsLoopback(endpoint) && tls_ca_pem.empty()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls_ca_pem;  // empty: the system roots
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  // Fail fast when nothing listens instead of backing off for long.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(endpoint, creds, args);
  return std::make_unique<ControlClient>(vnas::v1::Control::NewStub(channel), endpoint,
                                         token, timeout);
}

ControlClient::ControlClient(std::shared_ptr<vnas::v1::Control::StubInterface> stub,
                             std::string endpoint, std::string token,
                             absl::Duration timeout)
    : stub_(std::move(stub)),
      endpoint_(std::move(endpoint)),
      token_(std::move(token)),
      timeout_(timeout) {}

void ControlClient::Prepare(grpc::ClientContext* ctx, bool streaming) const {
  if (!streaming && timeout_ > absl::ZeroDuration() && timeout_ != absl::InfiniteDuration()) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(timeout_));
  }
  if (!token_.empty()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
}

bool ControlClient::IsUnreachable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE;
}

RpcFailure ControlClient::Failure(const grpc::Status& status,
                                  const grpc::ClientContext* ctx,
                                  absl::string_view what) const {
  RpcFailure f;
  if (status.ok()) return f;
  const std::string msg = status.error_message();
  if (!SplitReason(msg, &f.reason_name, &f.reason_text)) f.reason_text = msg;
  int code = 0;
  if (absl::SimpleAtoi(Trailer(ctx, "vnas-reason-code"), &code)) f.reason_code = code;
  uint64_t seq = 0;
  if (absl::SimpleAtoi(Trailer(ctx, "vnas-receipt-seq"), &seq)) f.receipt_seq = seq;

  std::string text;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      text = absl::StrCat("cannot reach vnasd at ", endpoint_, ": is it running? (", msg, ")");
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      text = absl::StrCat("vnasd at ", endpoint_, " did not answer ", what, " within ",
                          absl::FormatDuration(timeout_));
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      text = absl::StrCat("vnasd at ", endpoint_, " refused the credentials: ", msg,
                          " (use --token_file)");
      break;
    case grpc::StatusCode::UNIMPLEMENTED:
      text = absl::StrCat("vnasd at ", endpoint_, " does not implement ", what, ": ", msg);
      break;
    default:
      text = absl::StrCat(what, ": ", msg);
  }
  f.status = absl::Status(ToAbsl(status.error_code()), text);
  return f;
}

absl::Status ControlClient::Convert(const grpc::Status& status,
                                    const grpc::ClientContext* ctx,
                                    absl::string_view what) const {
  if (status.ok()) return absl::OkStatus();
  return Failure(status, ctx, what).status;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read token file ", path));
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace vnas::cli
