// answers_agree A B: exit status 0 when two files of `heatkit replay` answers
// agree as SEMANTICS.md "Numbers" counts agreement: the same words, numbers
// within a relative 1e-12. A forward-decayed backend's store keeps one frame
// (landmark, ticks) for its keys, so a rank's shard may round a rate
// differently in the last bits from one process holding every key.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/answers.h"

namespace {

std::vector<std::string> words_of(const char* path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "answers_agree: cannot read " << path << '\n';
    std::exit(2);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return heatkit::test::words(text.str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: answers_agree A B\n";
    return 2;
  }
  const auto a = words_of(argv[1]);
  const auto b = words_of(argv[2]);
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (!heatkit::test::words_agree(a[i], b[i])) {
      std::cerr << "word " << i << ": " << a[i] << " vs " << b[i] << '\n';
      return 1;
    }
  }
  if (a.size() != b.size()) {
    std::cerr << a.size() << " words vs " << b.size() << '\n';
    return 1;
  }
  return 0;
}
