#include "integration/plugin_testutil.h"

#include <fcntl.h>
#include <nfsc/libnfs.h>
#include <unistd.h>

#include <cctype>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace vnas::plugintest {
namespace {

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  absl::StatusOr<Json> Document() {
    Json v;
    if (!Value(&v)) return absl::InvalidArgumentError(absl::StrCat("bad JSON at ", pos_, ": ", s_));
    Ws();
    if (pos_ != s_.size()) return absl::InvalidArgumentError(absl::StrCat("trailing JSON at ", pos_));
    return v;
  }

 private:
  void Ws() {
    while (pos_ < s_.size() && isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool Lit(const char* w) {
    size_t n = strlen(w);
    if (s_.compare(pos_, n, w) != 0) return false;
    pos_ += n;
    return true;
  }
  bool String(std::string* out) {
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c == '\\' && pos_ < s_.size()) {
        char e = s_[pos_++];
        switch (e) {
          case 'n': *out += '\n'; break;
          case 't': *out += '\t'; break;
          case 'r': *out += '\r'; break;
          case 'b': *out += '\b'; break;
          case 'f': *out += '\f'; break;
          case 'u': {
            unsigned v = 0;
            if (pos_ + 4 > s_.size()) return false;
            for (int i = 0; i < 4; ++i) v = v * 16 + std::stoi(s_.substr(pos_ + i, 1), nullptr, 16);
            pos_ += 4;
            if (v < 0x80) *out += static_cast<char>(v);
            else *out += '?';
            break;
          }
          default: *out += e;
        }
      } else {
        *out += c;
      }
    }
    if (pos_ >= s_.size()) return false;
    ++pos_;
    return true;
  }
  bool Value(Json* v) {
    Ws();
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v->type = Json::kObject;
      Ws();
      if (pos_ < s_.size() && s_[pos_] == '}') { ++pos_; return true; }
      while (true) {
        Ws();
        std::string k;
        if (!String(&k)) return false;
        Ws();
        if (pos_ >= s_.size() || s_[pos_++] != ':') return false;
        Json item;
        if (!Value(&item)) return false;
        v->fields[k] = std::move(item);
        Ws();
        if (pos_ < s_.size() && s_[pos_] == ',') { ++pos_; continue; }
        if (pos_ < s_.size() && s_[pos_] == '}') { ++pos_; return true; }
        return false;
      }
    }
    if (c == '[') {
      ++pos_;
      v->type = Json::kArray;
      Ws();
      if (pos_ < s_.size() && s_[pos_] == ']') { ++pos_; return true; }
      while (true) {
        Json item;
        if (!Value(&item)) return false;
        v->items.push_back(std::move(item));
        Ws();
        if (pos_ < s_.size() && s_[pos_] == ',') { ++pos_; continue; }
        if (pos_ < s_.size() && s_[pos_] == ']') { ++pos_; return true; }
        return false;
      }
    }
    if (c == '"') {
      v->type = Json::kString;
      return String(&v->text);
    }
    if (Lit("true")) { v->type = Json::kBool; v->b = true; return true; }
    if (Lit("false")) { v->type = Json::kBool; return true; }
    if (Lit("null")) { v->type = Json::kNull; return true; }
    size_t start = pos_;
    while (pos_ < s_.size() && (isdigit(static_cast<unsigned char>(s_[pos_])) || strchr("+-.eE", s_[pos_]))) ++pos_;
    if (pos_ == start) return false;
    v->type = Json::kNumber;
    v->text = s_.substr(start, pos_ - start);
    return true;
  }

  const std::string& s_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<Json> Json::Parse(const std::string& s) { return Parser(s).Document(); }

const Json& Json::At(const std::string& path) const {
  static const Json kNullValue;
  const Json* cur = this;
  for (absl::string_view step : absl::StrSplit(path, '.', absl::SkipEmpty())) {
    if (cur->type == kObject) {
      auto it = cur->fields.find(std::string(step));
      if (it == cur->fields.end()) return kNullValue;
      cur = &it->second;
    } else if (cur->type == kArray) {
      size_t i = 0;
      if (!absl::SimpleAtoi(step, &i) || i >= cur->items.size()) return kNullValue;
      cur = &cur->items[i];
    } else {
      return kNullValue;
    }
  }
  return *cur;
}

uint64_t Json::AsUint() const {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) return 0;
  return v;
}

int64_t Json::AsInt() const {
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) return 0;
  return v;
}

std::string BinPath(const std::string& rel) {
  for (const char* env : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    const char* dir = getenv(env);
    if (!dir) continue;
    std::string p = absl::StrCat(dir, "/vnas/", rel);
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return rel;
}

harness::CommandResult RunCmd(const std::string& cmd, bool with_stderr, int timeout_s) {
  return harness::RunCommand(with_stderr ? cmd : cmd + " 2>/dev/null", timeout_s);
}

Json RunJson(const std::string& prefix, const std::string& args, int want_exit) {
  auto r = RunCmd(prefix + args + " --json");
  EXPECT_EQ(r.exit_code, want_exit) << args << ": " << r.output;
  auto j = Json::Parse(r.output);
  EXPECT_TRUE(j.ok()) << args << ": " << j.status() << "\n" << r.output;
  return j.ok() ? *j : Json();
}

void LiveTest::SetUp() {
  auto live = StartLive();
  ASSERT_TRUE(live.ok()) << live.status();
  live_ = *std::move(live);
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 4) {
    uint32_t v = rng();
    memcpy(&s[i], &v, std::min<size_t>(4, n - i));
  }
  return s;
}

std::string Live::Control() const { return absl::StrCat("127.0.0.1:", control_port); }

std::string Live::Vnasctl() const {
  return absl::StrCat(BinPath("server/admin/vnasctl"), " --control ", Control(), " ");
}

std::string Live::Offload() const {
  return absl::StrCat(BinPath("plugins/host/vnas-offload"), " --control ", Control(), " ");
}

absl::Status Live::Mkdirs(const std::string& dir) {
  std::string cur;
  for (absl::string_view c : absl::StrSplit(dir, '/', absl::SkipEmpty())) {
    absl::StrAppend(&cur, "/", c);
    struct nfs_stat_64 st {};
    if (nfs_stat64(nfs->ctx(), cur.c_str(), &st) == 0) continue;
    if (nfs_mkdir(nfs->ctx(), cur.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("mkdir ", cur, ": ", nfs->Error()));
    }
  }
  return absl::OkStatus();
}

absl::Status Live::WriteAt(const std::string& path, uint64_t offset, const std::string& data) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos) {
    absl::Status st = Mkdirs(path.substr(0, slash));
    if (!st.ok()) return st;
  }
  const std::string abs = "/" + path;
  struct nfsfh* fh = nullptr;
  if (nfs_open(nfs->ctx(), abs.c_str(), O_WRONLY, &fh) != 0 &&
      nfs_create(nfs->ctx(), abs.c_str(), O_WRONLY | O_CREAT, 0644, &fh) != 0) {
    return absl::InternalError(absl::StrCat("create ", path, ": ", nfs->Error()));
  }
  size_t done = 0;
  while (done < data.size()) {
    const size_t n = std::min<size_t>(data.size() - done, 1 << 20);
    int rc = nfs_pwrite(nfs->ctx(), fh, offset + done, n, data.data() + done);
    if (rc <= 0) {
      nfs_close(nfs->ctx(), fh);
      return absl::InternalError(absl::StrCat("write ", path, ": ", nfs->Error()));
    }
    done += rc;
  }
  nfs_fsync(nfs->ctx(), fh);
  nfs_close(nfs->ctx(), fh);
  return absl::OkStatus();
}

absl::Status Live::Write(const std::string& path, const std::string& data) {
  const std::string abs = "/" + path;
  struct nfs_stat_64 st {};
  if (nfs_stat64(nfs->ctx(), abs.c_str(), &st) == 0) {
    if (nfs_truncate(nfs->ctx(), abs.c_str(), 0) != 0) {
      return absl::InternalError(absl::StrCat("truncate ", path, ": ", nfs->Error()));
    }
  }
  return WriteAt(path, 0, data);
}

absl::StatusOr<std::string> Live::Read(const std::string& path) {
  const std::string abs = "/" + path;
  struct nfsfh* fh = nullptr;
  if (nfs_open(nfs->ctx(), abs.c_str(), O_RDONLY, &fh) != 0) {
    return absl::NotFoundError(absl::StrCat("open ", path, ": ", nfs->Error()));
  }
  struct nfs_stat_64 st {};
  nfs_fstat64(nfs->ctx(), fh, &st);
  std::string out(st.nfs_size, '\0');
  size_t done = 0;
  while (done < out.size()) {
    const size_t n = std::min<size_t>(out.size() - done, 1 << 20);
    int rc = nfs_pread(nfs->ctx(), fh, done, n, &out[done]);
    if (rc <= 0) {
      nfs_close(nfs->ctx(), fh);
      return absl::InternalError(absl::StrCat("read ", path, ": ", nfs->Error()));
    }
    done += rc;
  }
  nfs_close(nfs->ctx(), fh);
  return out;
}

bool Live::Exists(const std::string& path) {
  struct nfs_stat_64 st {};
  return nfs_stat64(nfs->ctx(), ("/" + path).c_str(), &st) == 0;
}

absl::StatusOr<std::unique_ptr<Live>> StartLive() {
  auto live = std::make_unique<Live>();
  live->control_port = harness::PickFreePort();
  harness::Vnasd::Options o;
  o.extra_flags.push_back(absl::StrCat("--control_listen=127.0.0.1:", live->control_port));
  auto d = harness::Vnasd::Start(o);
  if (!d.ok()) return d.status();
  live->vnasd = *std::move(d);
  // The control plane starts with the NFS listener; wait until it answers.
  for (int i = 0; i < 50; ++i) {
    auto r = RunCmd(live->Vnasctl() + "status --json --timeout 2");
    if (r.exit_code == 0) break;
    usleep(100 * 1000);
  }
  auto nfs = harness::NfsClient::Mount(live->vnasd->nfs_port());
  if (!nfs.ok()) return nfs.status();
  live->nfs = *std::move(nfs);
  return live;
}

}  // namespace vnas::plugintest
