#include "doc_blocks.hpp"

#include <fstream>

#include <doctest/doctest.h>

#include "harness.hpp"

namespace parley::test {

std::string doc_block(std::string_view page, std::string_view first_line) {
  const std::string path = source_file(page);
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot read " << path);
  std::string found, block;
  int matches = 0;
  bool inside = false, first = false, wanted = false;
  for (std::string line; std::getline(in, line);) {
    // A fence may be indented (a block inside a list item).
    if (const std::size_t text = line.find_first_not_of(' ');
        text != std::string::npos && line.compare(text, 3, "```") == 0) {
      if (inside && wanted) {
        found = block;
        ++matches;
      }
      inside = !inside;
      first = inside;
      wanted = false;
      block.clear();
      continue;
    }
    if (!inside) continue;
    if (first) wanted = line == first_line;
    first = false;
    block += line + "\n";
  }
  REQUIRE_MESSAGE(matches == 1, path << " has " << matches << " fenced blocks whose first line is '" << first_line
                                     << "'; the test needs exactly one");
  return found;
}

std::string substitute(std::string text, const std::vector<Substitution>& substitutions) {
  for (const Substitution& s : substitutions) {
    REQUIRE_MESSAGE(text.find(s.from) != std::string::npos,
                    "'" << s.from << "' is not in the block any more; the test cannot adapt it:\n" << text);
    for (std::size_t at = 0; (at = text.find(s.from, at)) != std::string::npos; at += s.to.size())
      text.replace(at, s.from.size(), s.to);
  }
  return text;
}

}  // namespace parley::test
