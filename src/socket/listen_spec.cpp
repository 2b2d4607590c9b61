#include "parley/socket/listen_spec.hpp"

namespace parley {
namespace {

// Sets the option `name` on `spec`; false when there is no such option.
bool apply_option(std::string_view name, ListenSpec& spec) {
  if (name == "proxy") {
    spec.proxy = true;
    return true;
  }
  return false;
}

}  // namespace

std::string ListenSpec::text() const { return address.text() + (proxy ? ",proxy" : ""); }

std::optional<ListenSpec> parse_listen_spec(std::string_view text, std::string& error) {
  // No address form holds a comma (a Unix path could, and is then refused
  // here rather than guessed at), so the first one ends the address.
  const std::size_t comma = text.find(',');
  std::optional<Address> address = parse_address(text.substr(0, comma), error);
  if (!address) return std::nullopt;
  ListenSpec spec{*address};
  for (std::string_view rest = comma == std::string_view::npos ? "" : text.substr(comma); !rest.empty();) {
    rest.remove_prefix(1);  // the comma
    const std::string_view name = rest.substr(0, rest.find(','));
    rest.remove_prefix(name.size());
    if (name.empty()) {
      error = "empty option after ',' (the one option is 'proxy')";
      return std::nullopt;
    }
    if (!apply_option(name, spec)) {
      error = "unknown option '" + std::string(name) + "' (the one option is 'proxy')";
      return std::nullopt;
    }
  }
  return spec;
}

}  // namespace parley
