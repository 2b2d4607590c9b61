#include "parley/admin/endpoints.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>
#include <vector>

#include "parley/protocol/encode.hpp"

namespace parley {
namespace {

HttpResponse text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// `name=value` from a query string; nullopt when absent.
std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// A whole number in [0, max], or nullopt.
std::optional<std::size_t> number(std::string_view text, std::size_t max) {
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n > max) return std::nullopt;
  return n;
}

template <class Integer>
void field(std::string& out, std::string_view prefix, Integer value) {
  out += prefix;
  out += std::to_string(value);
}

void string_field(std::string& out, std::string_view prefix, std::string_view value) {
  out += prefix;
  append_json_string(out, value);
}

void append_connection(std::string& out, const Session& s, const SessionView& view, std::int64_t now_ms) {
  const SessionStats& st = s.stats();
  const std::int64_t last = st.last_line_ms ? st.last_line_ms : st.connected_ms;
  field(out, "{\"id\":", connection_number(s.id()));
  string_field(out, ",\"transport\":", transport_name(s.transport()));
  string_field(out, ",\"peer\":", s.peer());
  out += ",\"state\":";
  out += s.open() ? "\"open\"" : "\"closing\"";
  out += ",\"nick\":";
  if (view.nick)
    append_json_string(out, *view.nick);
  else
    out += "null";
  out += ",\"channels\":[";
  for (std::size_t i = 0; i < view.channels.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, view.channels[i]);
  }
  out += ']';
  field(out, ",\"bytes_in\":", st.bytes_in);
  field(out, ",\"bytes_out\":", st.bytes_out);
  field(out, ",\"lines_in\":", st.lines_in);
  field(out, ",\"lines_out\":", st.lines_out);
  field(out, ",\"pending_bytes\":", s.pending_bytes());
  field(out, ",\"idle_ms\":", std::max<std::int64_t>(0, now_ms - last));
  field(out, ",\"age_ms\":", std::max<std::int64_t>(0, now_ms - st.connected_ms));
  out += '}';
}

}  // namespace

HttpResponse healthz() { return text(200, "ok\n"); }

HttpResponse readyz(const Readiness& readiness) {
  if (readiness.ready) return text(200, "ready\n");
  return text(503, "not ready: " + std::string(readiness.why) + "\n");
}

HttpResponse connz(const Hub& hub, std::string_view query, std::int64_t now_ms) {
  std::size_t limit = connz_default_limit, offset = 0;
  if (auto v = query_value(query, "limit")) {
    auto n = number(*v, connz_max_limit);
    if (!n || *n == 0)
      return text(400, "limit must be a whole number from 1 to " + std::to_string(connz_max_limit) + "\n");
    limit = *n;
  }
  if (auto v = query_value(query, "offset")) {
    auto n = number(*v, SIZE_MAX);
    if (!n) return text(400, "offset must be a whole number\n");
    offset = *n;
  }
  // Sorted by id, which counts connections in accept order.
  std::vector<const Session*> sessions;
  sessions.reserve(hub.size());
  hub.for_each_session([&](const Session& s) { sessions.push_back(&s); });
  std::sort(sessions.begin(), sessions.end(), [](const Session* a, const Session* b) {
    return connection_number(a->id()) < connection_number(b->id());
  });
  HttpResponse r;
  r.content_type = "application/json";
  std::string& out = r.body;
  field(out, "{\"now_ms\":", now_ms);
  field(out, ",\"total\":", sessions.size());
  field(out, ",\"offset\":", offset);
  field(out, ",\"limit\":", limit);
  out += ",\"connections\":[";
  const std::size_t end = std::min(sessions.size(), offset > sessions.size() ? sessions.size() : offset + limit);
  for (std::size_t i = std::min(offset, sessions.size()); i < end; ++i) {
    if (i != offset) out += ',';
    append_connection(out, *sessions[i], hub.backend().view(sessions[i]->id()), now_ms);
  }
  out += "]}\n";
  return r;
}

HttpResponse route(std::string_view method, std::string_view target, const AdminState& state) {
  if (method != "GET" && method != "HEAD") {
    HttpResponse r = text(405, "only GET and HEAD\n");
    r.extra_headers = "Allow: GET, HEAD\r\n";
    return r;
  }
  const std::size_t mark = target.find('?');
  const std::string_view path = target.substr(0, mark);
  const std::string_view query = mark == std::string_view::npos ? std::string_view() : target.substr(mark + 1);
  if (path == "/healthz") return healthz();
  if (path == "/readyz") return readyz(state.hub.readiness());
  if (path == "/metrics") {
    HttpResponse r = text(200, state.metrics ? state.metrics() : std::string());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (path == "/connz") return connz(state.hub, query, state.now_ms);
  return text(404, "not found; try /healthz, /readyz, /metrics or /connz\n");
}

}  // namespace parley
