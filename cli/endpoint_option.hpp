// Parsing of the IP:PORT arguments the executables take, with messages that say what
// was wrong and what is expected. Host names are deliberately not resolved.
#pragma once

#include "dht/base/endpoint.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace CLI {
class Validator;
}

namespace ovl::cli {

enum class port_rule { required_nonzero, zero_allowed, optional };

// Parses "IP:PORT" ("[v6]:PORT" for IPv6). With port_rule::optional a bare IP is
// accepted and gets port 0. On failure returns nullopt and sets `error`.
std::optional<endpoint> parse_endpoint(std::string_view text, port_rule rule, std::string& error);

// A CLI11 check for options taking an endpoint, reporting parse_endpoint's message.
CLI::Validator endpoint_validator(port_rule rule);

} // namespace ovl::cli
