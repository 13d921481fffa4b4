// Replays the checked-in malformed samples (testdata/corpus) through every
// parser and the analyzer: none may crash, and the analyzer's report
// invariants must hold (FuzzOneInput aborts otherwise).
#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/vmformat/fuzz_entry.h"

namespace vnas::vmformat {
namespace {

constexpr char kCorpus[] = "server/vmformat/testdata/corpus";

TEST(CorpusReplay, EverySampleIsHandled) {
  DIR* d = opendir(kCorpus);
  ASSERT_NE(d, nullptr) << "corpus directory missing: " << kCorpus;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  ASSERT_GE(names.size(), 20u);
  for (const std::string& n : names) {
    SCOPED_TRACE(n);
    std::ifstream in(std::string(kCorpus) + "/" + n, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    FuzzOneInput(buf.str());
  }
}

TEST(CorpusReplay, GeneratedExtremes) {
  FuzzOneInput("");
  FuzzOneInput(std::string(1 << 20, 'a'));                       // 1 MB line
  FuzzOneInput("version=1\nCID=1\ncreateType=\"vmfs\"\n# " + std::string(1 << 20, '#'));
  FuzzOneInput(std::string(1 << 16, '\0'));
  FuzzOneInput(std::string(70000, '\xff'));
}

}  // namespace
}  // namespace vnas::vmformat
