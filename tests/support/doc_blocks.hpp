// The fenced code blocks of a page in docs/, for tests that run what the
// page shows (docs/deploy.md's haproxy.cfg, nginx stream block and systemd
// drop-ins), so that the page and the test cannot drift apart. A block is
// found by its first line, a comment such as `# /etc/haproxy/haproxy.cfg`
// that names the file it belongs in. Integration tests include it as
// "doc_blocks.hpp".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parley::test {

// The lines of the fenced block (between a ``` line and the next) of the
// source file `page` ("docs/deploy.md") whose first line is `first_line`,
// that line included, each ending in '\n'. REQUIREs exactly one such block.
std::string doc_block(std::string_view page, std::string_view first_line);

// Every occurrence of `from` becomes `to`.
struct Substitution {
  std::string from;
  std::string to;
};

// `text` with each substitution applied in turn. REQUIREs that each `from`
// occurs, so a page that changes fails the test loudly instead of letting
// it run something other than the page shows.
std::string substitute(std::string text, const std::vector<Substitution>& substitutions);

}  // namespace parley::test
