// exports.cc — exports file parser and access checks (format in exports.h).
#include "server/nfs/exports.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vnas::nfs {
namespace {

// Splits "/a/b/c" into components; fails on "", ".", "..".
bool Components(absl::string_view path, std::vector<std::string>* out) {
  out->clear();
  for (absl::string_view c : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (c == "." || c == "..") return false;
    out->emplace_back(c);
  }
  return true;
}

// True when `inner` lies strictly below `outer` (component-wise).
bool StrictlyBelow(const std::vector<std::string>& inner,
                   const std::vector<std::string>& outer) {
  return inner.size() > outer.size() &&
         std::equal(outer.begin(), outer.end(), inner.begin());
}

absl::Status ParseClient(absl::string_view item, ClientRule* rule) {
  absl::string_view host = item, opts;
  size_t paren = item.find('(');
  if (paren != absl::string_view::npos) {
    if (item.back() != ')') {
      return absl::InvalidArgumentError(absl::StrCat("bad client '", item, "'"));
    }
    host = item.substr(0, paren);
    opts = item.substr(paren + 1, item.size() - paren - 2);
  }
  rule->spec = std::string(host);
  if (host == "*") {
    rule->anyone = true;
  } else {
    absl::string_view ip = host;
    size_t slash = host.find('/');
    if (slash != absl::string_view::npos) ip = host.substr(0, slash);
    std::optional<ClientAddr> a = ClientAddr::Parse(ip);
    if (!a) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad client address '", host, "'"));
    }
    // The prefix counts the bits of the form written: 32 for dotted IPv4,
    // 128 for IPv6 text (an IPv4-mapped ::ffff:a.b.c.d/n included).
    const bool dotted = ip.find(':') == absl::string_view::npos;
    const int max = dotted ? 32 : 128;
    int bits = max;
    if (slash != absl::string_view::npos &&
        (!absl::SimpleAtoi(host.substr(slash + 1), &bits) || bits < 0 ||
         bits > max)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad prefix length in '", host, "'"));
    }
    rule->v4 = a->is_v4();
    rule->bits = dotted ? 96 + bits : bits;
    rule->network = a->Masked(rule->bits);
  }
  for (absl::string_view o : absl::StrSplit(opts, ',', absl::SkipEmpty())) {
    o = absl::StripAsciiWhitespace(o);
    if (o == "rw") {
      rule->rw = true;
    } else if (o == "ro") {
      rule->rw = false;
    } else if (o == "root_squash") {
      rule->root_squash = true;
    } else if (o == "no_root_squash") {
      rule->root_squash = false;
    } else if (o == "all_squash") {
      rule->all_squash = true;
    } else if (o == "no_all_squash") {
      rule->all_squash = false;
    } else if (o == "sync" || o == "async" || o == "secure" ||
               o == "insecure" || o == "no_subtree_check" ||
               o == "subtree_check" || o == "wdelay" || o == "no_wdelay") {
      // accepted, no meaning here
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown export option '", o, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ExportTable> ExportTable::Parse(absl::string_view text) {
  ExportTable t;
  int lineno = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++lineno;
    size_t hash = line.find('#');
    if (hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (words.empty()) continue;
    auto err = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("exports line ", lineno, ": ", why));
    };
    Export e;
    std::vector<std::string> comps;
    if (words[0].empty() || words[0][0] != '/' || !Components(words[0], &comps) ||
        comps.empty()) {
      return err(absl::StrCat("bad export path '", words[0], "'"));
    }
    e.name = "/" + absl::StrJoin(comps, "/");
    e.store_path = absl::StrJoin(comps.begin() + 1, comps.end(), "/");
    if (words.size() < 2) return err("no clients");
    for (size_t i = 1; i < words.size(); ++i) {
      ClientRule r;
      absl::Status s = ParseClient(words[i], &r);
      if (!s.ok()) return err(s.message());
      e.clients.push_back(std::move(r));
    }
    for (const Export& other : t.exports_) {
      if (other.name == e.name) return err("duplicate export " + e.name);
    }
    if (t.exports_.size() >= 255) return err("too many exports");
    t.exports_.push_back(std::move(e));
    t.comps_.push_back(std::move(comps));
  }
  if (t.exports_.empty()) {
    return absl::InvalidArgumentError("exports: no export defined");
  }
  t.nested_.resize(t.exports_.size());
  for (uint32_t i = 0; i < t.exports_.size(); ++i) {
    for (uint32_t j = 0; j < t.exports_.size(); ++j) {
      if (StrictlyBelow(t.comps_[j], t.comps_[i])) t.nested_[i].push_back(j);
    }
  }
  return t;
}

ExportTable ExportTable::Default() {
  return *Parse("/vnas 127.0.0.1/32(rw,no_root_squash) ::1/128(rw,no_root_squash)\n");
}

std::optional<ExportAccess> ExportTable::Check(uint32_t index,
                                               const ClientAddr& addr) const {
  if (index >= exports_.size()) return std::nullopt;
  for (const ClientRule& r : exports_[index].clients) {
    if (r.anyone ||
        (r.v4 == addr.is_v4() && addr.InNetwork(r.network, r.bits))) {
      return ExportAccess{r.rw, r.root_squash, r.all_squash};
    }
  }
  return std::nullopt;
}

std::optional<ExportTable::PathMatch> ExportTable::FindForPath(
    absl::string_view path) const {
  return Find(path, std::nullopt);
}

std::optional<ExportTable::PathMatch> ExportTable::FindForClient(
    absl::string_view path, const ClientAddr& addr) const {
  return Find(path, addr);
}

std::vector<uint32_t> ExportTable::NestedNamed(uint32_t outer,
                                               absl::string_view name,
                                               const ClientAddr& addr) const {
  std::vector<uint32_t> out;
  if (outer >= nested_.size()) return out;
  for (uint32_t j : nested_[outer]) {
    if (comps_[j].back() == name && Check(j, addr)) out.push_back(j);
  }
  return out;
}

std::vector<uint32_t> ExportTable::Enclosing(uint32_t inner,
                                             const ClientAddr& addr) const {
  std::vector<uint32_t> out;
  if (inner >= exports_.size()) return out;
  for (uint32_t i = 0; i < exports_.size(); ++i) {
    if (StrictlyBelow(comps_[inner], comps_[i]) && Check(i, addr)) {
      out.push_back(i);
    }
  }
  std::sort(out.begin(), out.end(), [this](uint32_t a, uint32_t b) {
    return comps_[a].size() > comps_[b].size();
  });
  return out;
}

std::optional<ExportTable::PathMatch> ExportTable::Find(
    absl::string_view path, std::optional<ClientAddr> addr) const {
  std::vector<std::string> comps;
  if (!Components(path, &comps) || comps.empty()) return std::nullopt;
  std::optional<PathMatch> best;
  size_t best_len = 0;
  for (uint32_t i = 0; i < exports_.size(); ++i) {
    const std::vector<std::string>& ec = comps_[i];
    if (ec.size() > comps.size() || ec.size() <= best_len) continue;
    if (addr && !Check(i, *addr)) continue;
    if (!std::equal(ec.begin(), ec.end(), comps.begin())) continue;
    best_len = ec.size();
    PathMatch m;
    m.index = i;
    m.store_path = absl::StrJoin(comps.begin() + 1, comps.end(), "/");
    best = m;
  }
  return best;
}

}  // namespace vnas::nfs
