// parleyd: parse flags, open listeners, run the loop until drained.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <uv.h>

#include "parley/parleyd/cli.hpp"
#include "parley/log/log.hpp"
#include "parley/net/server.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  parley::CliResult cli = parley::parse_command_line(args);
  if (!cli.config) {
    std::fputs(cli.output.c_str(), cli.exit_code == 0 ? stdout : stderr);
    return cli.exit_code;
  }
  // A peer that closed must cost us an EPIPE on write, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  parley::log::set_level(cli.config->log_level);

  uv_loop_t loop;
  uv_loop_init(&loop);
  int status = 0;
  {
    parley::Server server(&loop, std::move(*cli.config));
    status = server.start();
    if (status != 0) {
      // Close whatever start() opened so the loop can be closed cleanly.
      uv_walk(
          &loop, [](uv_handle_t* h, void*) { if (!uv_is_closing(h)) uv_close(h, nullptr); },
          nullptr);
    }
    uv_run(&loop, UV_RUN_DEFAULT);  // until drained
  }
  uv_loop_close(&loop);
  return status;
}
