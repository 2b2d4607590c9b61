// parleyd's command line: flags in, a ServerConfig (or a message and an exit
// status) out. No I/O here but reading --auth-token-file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "parley/parleyd/config.hpp"

namespace parley {

struct CliResult {
  std::optional<ServerConfig> config;  // set when the server should start
  int exit_code = 0;                   // otherwise: 0 for --help/--version, 2 for bad usage
  std::string output;                  // help/version text, or the error message
};

CliResult parse_command_line(const std::vector<std::string>& args);

std::string help_text();

}  // namespace parley
