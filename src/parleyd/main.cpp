// parleyd: parse flags, wire the layers together, run the loop until drained.
//
//   Core (chat/) <- LocalBackend <- Hub (hub/) <- LineSession (transport/line/)
//                                      ^               ^  <- WsSession (transport/ws/)
//                                   Server (net/: listeners, the loop's turn, signals)
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <csignal>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "parley/admin/admin_server.hpp"
#include "parley/admin/loop_monitor.hpp"
#include "parley/admin/metrics_text.hpp"
#include "parley/chat/core.hpp"
#include "parley/cluster/cluster_backend.hpp"
#include "parley/cluster/redis_address.hpp"
#include "parley/hub/backend.hpp"
#include "parley/hub/clock.hpp"
#include "parley/hub/hub.hpp"
#include "parley/log/log.hpp"
#include "parley/net/descriptor_limit.hpp"
#include "parley/net/listen_fds.hpp"
#include "parley/net/read_buffer.hpp"
#include "parley/net/sd_notify.hpp"
#include "parley/net/server.hpp"
#include "parley/net/status_reporter.hpp"
#include "parley/parleyd/backplane_metrics.hpp"
#include "parley/parleyd/cli.hpp"
#include "parley/transport/line/line_session.hpp"
#include "parley/transport/ws/ws_session.hpp"
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

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "parley";
  return name;
}

cluster::ClusterConfig cluster_config(const ServerConfig& config, const cluster::RedisAddress& address) {
  cluster::ClusterConfig c;
  c.redis.address = address;
  c.redis.connect_timeout_ms = std::max<std::int64_t>(static_cast<std::int64_t>(config.cluster_timeout_ms), 50);
  c.redis.command_timeout_ms = c.redis.connect_timeout_ms;
  c.redis.max_in_flight = config.cluster_max_in_flight;
  c.redis.client_name = "parleyd";
  c.prefix = config.cluster_prefix;
  c.node_lease_ms = static_cast<std::int64_t>(config.node_lease_ms);
  c.say_batch = config.cluster_batch;
  c.say_batch_bytes = config.cluster_batch_bytes;
  return c;
}

ServerInfo server_info(const ServerConfig& config) {
  ServerInfo info;
  info.version = PARLEY_VERSION;
  info.epoch_prefix = make_epoch_prefix();
  info.auth_token = config.auth_token;
  info.node = config.node_id.empty() ? host_name() : config.node_id;
  info.resume_grace_ms = static_cast<std::int64_t>(config.resume_grace_s) * 1000;
  info.max_held_sessions = config.max_held_sessions;
  if (!config.cluster.empty()) info.features.push_back("cluster");
  if (config.http) info.features.push_back("websocket");
  return info;
}

HubConfig hub_config(const ServerConfig& config) {
  return {config.limits, config.max_clients, config.max_conns_per_ip, config.max_pending, config.pipeline_depth};
}

DrainPlan drain_plan(const ServerConfig& config) {
  DrainPlan plan;
  plan.retry_ms = config.shutdown_retry_ms;
  plan.grace_ms = static_cast<std::int64_t>(config.drain_grace_ms);
  plan.window_ms = static_cast<std::int64_t>(config.drain_window_ms);
  plan.seed = std::random_device{}();
  return plan;
}

LineOptions line_options(const ServerConfig& config) {
  LineOptions options;
  options.max_line = config.limits.max_line;
  options.ping_interval_ms = config.ping_interval_s * 1000ull;
  options.idle_timeout_ms = config.idle_timeout_s * 1000ull;
  options.drain_timeout_ms = config.drain_timeout_s * 1000ull;
  options.conn_limit_exempt = config.conn_limit_exempt;
  options.trusted_proxies = config.trusted_proxies;
  options.proxy_header_timeout_ms = config.proxy_header_timeout_ms;
  return options;
}

WsOptions ws_options(const ServerConfig& config) {
  WsOptions options;
  options.http = config.http;
  options.max_header_bytes = config.http_max_header;
  options.http_timeout_ms = config.http_timeout_ms;
  options.close_timeout_ms = config.ws_close_timeout_ms;
  options.handshake.allowed_origins = config.allowed_origins;
  return options;
}

// The listening sockets systemd passed, by role (net/listen_fds.hpp).
struct Activated {
  std::vector<int> chat_fds;
  int admin_fd = -1;
};

// Socket activation's precedence (docs/operations.md): chat sockets from
// systemd are served besides every --listen, and instead of the default
// address when no --listen was given; an admin socket replaces --admin.
Activated sort_activated(const ListenFds& fds, ServerConfig& config) {
  Activated out;
  for (const ActivatedSocket& socket : fds.sockets) {
    if (socket.role == SocketRole::admin)
      out.admin_fd = socket.fd;
    else
      out.chat_fds.push_back(socket.fd);
  }
  if (!out.chat_fds.empty() && config.listen_defaulted) config.listen.clear();
  if (out.admin_fd >= 0 && config.admin)
    log::info("admin: socket " + std::to_string(out.admin_fd) + " from systemd replaces --admin " +
              config.admin->text());
  return out;
}

// --trusted-proxy only restricts proxy listeners: without one it does
// nothing, which is worth a word to whoever wrote it.
// (Activated sockets expect a header only with --proxy-protocol.)
void warn_if_trust_unused(const ServerConfig& config) {
  if (config.trusted_proxies.empty() || config.proxy_protocol) return;
  for (const ListenSpec& spec : config.listen)
    if (spec.proxy) return;
  log::warn("--trusted-proxy is given but no listener expects a PROXY header (add ,proxy to a --listen, or "
            "--proxy-protocol): it restricts nothing");
}

AdminOptions admin_options(const ServerConfig& config, int admin_fd) {
  AdminOptions options;
  if (config.admin) options.address = *config.admin;
  options.fd = admin_fd;
  options.max_connections = config.admin_max_conns;
  options.timeout_ms = config.admin_timeout_s * 1000ull;
  return options;
}

// Opens the admin listener and says where; false after saying why not.
bool open_admin(AdminServer& admin, LoopMonitor& monitor) {
  std::string error;
  if (!admin.open(error)) {
    const AdminOptions& options = admin.options();
    if (options.fd >= 0)
      std::fprintf(stderr, "parleyd: cannot use socket %d from systemd (admin): %s\n", options.fd, error.c_str());
    else
      std::fprintf(stderr, "parleyd: cannot listen on %s (admin): %s\n", options.address.text().c_str(),
                   error.c_str());
    return false;
  }
  if (!monitor.start()) {
    std::fprintf(stderr, "parleyd: cannot start the event-loop monitor\n");
    return false;
  }
  std::printf("admin listening on %s\n", admin.bound_address().c_str());
  std::fflush(stdout);
  log::info("admin listening on " + admin.bound_address());
  return true;
}

int serve(const ServerConfig& config, const Activated& activated) {
  const bool with_admin = config.admin || activated.admin_fd >= 0;
  std::string cluster_error;
  const std::optional<cluster::RedisAddress> redis =
      config.cluster.empty() ? std::nullopt : cluster::parse_redis_url(config.cluster, cluster_error);
  if (!config.cluster.empty() && !redis) {
    std::fprintf(stderr, "parleyd: --cluster %s: %s\n", config.cluster.c_str(), cluster_error.c_str());
    return 2;
  }
  raise_descriptor_limit();
  SdNotifier notifier;
  uv_loop_t loop;
  if (const int rc = uv_loop_init(&loop); rc != 0) {
    std::fprintf(stderr, "parleyd: uv_loop_init: %s\n", uv_strerror(rc));
    return 1;
  }
  // /metrics reports the loop's busy share; libuv counts idle time only when asked.
  if (with_admin)
    if (const int rc = uv_loop_configure(&loop, UV_METRICS_IDLE_TIME); rc != 0)
      log::warn(std::string("uv_loop_configure(UV_METRICS_IDLE_TIME): ") + uv_strerror(rc));
  int status = 0;
  {
    const ServerInfo info = server_info(config);
    // A server alone keeps the chat in its Core; a cluster's is in Redis.
    std::optional<Core> core;
    std::optional<LocalBackend> local;
    std::unique_ptr<cluster::ClusterBackend> shared;
    Backend* backend;
    if (redis) {
      shared = std::make_unique<cluster::ClusterBackend>(&loop, cluster_config(config, *redis), config.limits, info);
      backend = shared.get();
    } else {
      core.emplace(config.limits, info);
      local.emplace(*core);
      backend = &*local;
    }
    WallClock clock;
    Hub hub(hub_config(config), *backend, clock);
    admin::Histogram backplane_latency(backplane_seconds_bounds);
    if (shared) {
      shared->bind(hub);
      shared->on_latency([&](std::int64_t micros) { backplane_latency.observe(static_cast<double>(micros) / 1e6); });
      shared->start();
    }
    ReadBuffer read_buffer;
    LoopMonitor monitor(&loop);
    std::unique_ptr<AdminServer> admin;
    if (with_admin)
      admin = std::make_unique<AdminServer>(&loop, read_buffer, hub, admin_options(config, activated.admin_fd),
                                            [&] {
                                              return metrics_text(hub, monitor.stats(), [&](admin::PrometheusWriter& w) {
                                                if (shared) write_backplane_metrics(w, *shared, backplane_latency);
                                              });
                                            });
    StatusReporter status_reporter(&loop, hub, notifier);
    // The admin listener closes last: /readyz says 503 through the drain.
    auto close_admin = [&] {
      if (admin) admin->close();
      monitor.close();
      status_reporter.close();
      if (shared) shared->stop(nullptr);
    };
    if (admin && !open_admin(*admin, monitor)) {
      close_admin();
      status = 1;
    }
    if (status != 0) {
      uv_run(&loop, UV_RUN_DEFAULT);  // let the handles close
    } else {
      LineContext lines{hub, &loop, read_buffer, line_options(config)};
      WsContext chat(lines, ws_options(config));
      auto on_ready = [&] {
        notifier.notify("READY=1");
        status_reporter.start();
      };
      auto on_drain = [&] {
        notifier.notify("STOPPING=1");
        status_reporter.report();
      };
      Server server(&loop, hub,
                    {config.listen, drain_plan(config), close_admin, on_ready, on_drain, activated.chat_fds,
                     config.proxy_protocol},
                    [&](int fd, TransportKind transport, std::string peer, const ListenSpec& listener) {
                      accept_chat_session(chat, fd, transport, std::move(peer), listener.proxy);
                    });
      status = server.start();
      uv_run(&loop, UV_RUN_DEFAULT);  // until drained (or, after a failed start, until closed)
    }
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
  std::string error;
  const std::optional<ListenFds> listen_fds = take_listen_fds(error);
  if (!listen_fds) {
    std::fprintf(stderr, "parleyd: socket activation: %s\n", error.c_str());
    return 1;
  }
  const Activated activated = sort_activated(*listen_fds, *cli.config);
  warn_if_trust_unused(*cli.config);
  return serve(*cli.config, activated);
}
