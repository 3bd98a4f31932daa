// The IPv6 socket a command opens beside its IPv4 one (--bind6, overlay-node's --listen6):
// "off"; "auto", an IPv6 socket on [::] only when this host has a global IPv6 address to
// send from; or an explicit [ADDRESS]:PORT.
#pragma once

#include "dht/base/endpoint.hpp"

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class Validator;
}

namespace ovl::cli {

struct ipv6_socket {
    // Where to bind; port 0 asks for the IPv4 socket's port number first (one number for
    // both families, which TCP simultaneous open over IPv6 also uses), else any.
    endpoint bind;
    // Set explicitly: failing to bind it is an error, not a quiet fall back to IPv4 only.
    bool required = false;
};

// The problem with a setting's text, if any.
std::optional<std::string> check_ipv6_setting(const std::string& text);
CLI::Validator ipv6_setting_validator();
// What the (valid) setting asks for here; `toward` (the bootstrap nodes) helps find the
// source address the kernel would use.
std::optional<ipv6_socket> resolve_ipv6_setting(const std::string& text, const std::vector<endpoint>& toward);

} // namespace ovl::cli
