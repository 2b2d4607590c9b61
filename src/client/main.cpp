// parley: a terminal client for parleyd.
//   parley [--nick NICK] [--json] [--no-reconnect] ADDRESS
// The loop is terminal.cpp's; this file reads the command line and connects.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "parley/chat/names.hpp"
#include "parley/client/terminal.hpp"
#include "parley/socket/address.hpp"
#include "parley/socket/endpoint.hpp"

namespace {

const std::string usage_text = std::string(
    "usage: parley [--nick NICK] [--json] [--no-reconnect] ADDRESS\n"
    "  ADDRESS         HOST:PORT, [IPV6]:PORT or unix:PATH (parleyd's default: ") +
    std::string(parley::default_address) + ")\n"
    "  --nick          nick to register (default: $USER, else 'guest')\n"
    "  --json          print every line from the server as it came\n"
    "  --no-reconnect  exit when the connection goes, instead of connecting\n"
    "                  again and resuming the session\n"
    "Type /help once connected for the commands.\n";
const char* const usage = usage_text.c_str();

std::string default_nick() {
  const char* user = std::getenv("USER");
  if (user && parley::is_valid_nick(user)) return user;
  return "guest";
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  parley::client::Options options;
  options.nick = default_nick();
  std::string address_text;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      return 0;
    } else if (arg == "--json") {
      options.json_mode = true;
    } else if (arg == "--no-reconnect") {
      options.reconnect = false;
    } else if (arg == "--nick" && i + 1 < argc) {
      options.nick = argv[++i];
    } else if (arg.starts_with("--nick=")) {
      options.nick = arg.substr(7);
    } else if (!arg.starts_with("-") && address_text.empty()) {
      address_text = arg;
    } else {
      std::fprintf(stderr, "parley: unexpected argument '%s'\n%s", arg.c_str(), usage);
      return 2;
    }
  }
  if (address_text.empty()) {
    std::fputs(usage, stderr);
    return 2;
  }
  std::string error;
  const auto address = parley::parse_address(address_text, error);
  if (!address) {
    std::fprintf(stderr, "parley: '%s': %s\n", address_text.c_str(), error.c_str());
    return 2;
  }
  options.address = *address;
  const int fd = parley::connect_to(*address, error);
  if (fd < 0) {
    std::fprintf(stderr, "parley: cannot connect to %s: %s\n", address_text.c_str(), error.c_str());
    return 1;
  }
  return parley::client::run_terminal(options, fd);
}
