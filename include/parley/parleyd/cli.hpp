// parleyd's command line: flags in, a ServerConfig (or a message and an exit
// status) out. No I/O here but reading --auth-token-file.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "parley/parleyd/config.hpp"

namespace parley {

struct CliResult {
  std::optional<ServerConfig> config;  // set when the server should start
  int exit_code = 0;                   // otherwise: 0 for --help/--version, 2 for bad usage
  std::string output;                  // help/version text, or the error message
};

CliResult parse_command_line(const std::vector<std::string>& args);

// One flag as --help shows it; `default_value` is printed from a
// default-constructed ServerConfig ("65536", "off", "none", ...).
struct FlagInfo {
  std::string name;           // "--max-line"
  std::string arg;            // "BYTES"; empty for a switch
  std::string default_value;
  // For numeric flags, the accepted values, both ends included.
  std::optional<std::pair<unsigned long long, unsigned long long>> range;
};

// Every flag but --help and --version, in --help's order.
std::vector<FlagInfo> flag_table();

std::string help_text();

}  // namespace parley
