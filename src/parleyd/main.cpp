// parleyd: parse flags, wire the layers together, run the loop until drained.
//
//   Core (chat/) <- LocalBackend <- Hub (hub/) <- LineSession (transport/line/)
//                                      ^               ^
//                                   Server (net/: listeners, the loop's turn, signals)
#include <uv.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "parley/chat/core.hpp"
#include "parley/hub/backend.hpp"
#include "parley/hub/clock.hpp"
#include "parley/hub/hub.hpp"
#include "parley/log/log.hpp"
#include "parley/net/read_buffer.hpp"
#include "parley/net/server.hpp"
#include "parley/parleyd/cli.hpp"
#include "parley/transport/line/line_session.hpp"
#include "parley_version.h"

namespace {

using namespace parley;

// Makes channel epochs differ between server lives: the start time and a
// little randomness.
std::string make_epoch_prefix() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  std::random_device random;
  char text[48];
  std::snprintf(text, sizeof text, "%llx%04x", static_cast<unsigned long long>(ms),
                static_cast<unsigned>(random() & 0xffff));
  return text;
}

ServerInfo server_info(const ServerConfig& config) {
  ServerInfo info;
  info.version = PARLEY_VERSION;
  info.epoch_prefix = make_epoch_prefix();
  info.auth_token = config.auth_token;
  return info;
}

HubConfig hub_config(const ServerConfig& config) {
  return {config.limits, config.max_clients, config.max_conns_per_ip, config.max_pending};
}

LineOptions line_options(const ServerConfig& config) {
  LineOptions options;
  options.max_line = config.limits.max_line;
  options.expect_proxy_header = config.proxy_protocol;
  options.ping_interval_ms = config.ping_interval_s * 1000ull;
  options.idle_timeout_ms = config.idle_timeout_s * 1000ull;
  options.drain_timeout_ms = config.drain_timeout_s * 1000ull;
  return options;
}

int serve(const ServerConfig& config) {
  uv_loop_t loop;
  if (const int rc = uv_loop_init(&loop); rc != 0) {
    std::fprintf(stderr, "parleyd: uv_loop_init: %s\n", uv_strerror(rc));
    return 1;
  }
  int status = 0;
  {
    Core core(config.limits, server_info(config));
    LocalBackend backend(core);
    WallClock clock;
    Hub hub(hub_config(config), backend, clock);
    ReadBuffer read_buffer;
    LineContext lines{hub, &loop, read_buffer, line_options(config)};
    Server server(&loop, hub, {config.listen, config.shutdown_retry_ms},
                  [&](int fd, TransportKind transport, std::string peer) {
                    accept_line_session(lines, fd, transport, std::move(peer));
                  });
    status = server.start();
    uv_run(&loop, UV_RUN_DEFAULT);  // until drained (or, after a failed start, until closed)
  }
  if (const int rc = uv_loop_close(&loop); rc != 0)
    std::fprintf(stderr, "parleyd: uv_loop_close: %s (a handle was left open)\n", uv_strerror(rc));
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  CliResult cli = parse_command_line(args);
  if (!cli.config) {
    std::fputs(cli.output.c_str(), cli.exit_code == 0 ? stdout : stderr);
    return cli.exit_code;
  }
  // A peer that closed must cost us an EPIPE on write, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  log::set_level(cli.config->log_level);
  return serve(*cli.config);
}
