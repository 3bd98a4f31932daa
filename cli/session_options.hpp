// The options every overlay-peer command shares (bootstrap nodes, local address, output
// mode, time limit, logging) and the node settings they imply.
#pragma once

#include "cli/ipv6_setting.hpp"
#include "dht/base/endpoint.hpp"
#include "overlay/overlay_config.hpp"

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ovl::cli {

struct session_options {
    std::vector<std::string> bootstrap;
    std::string bind = "0.0.0.0:0";
    std::string bind6 = "auto";
    bool json = false;
    double timeout = 15;
    std::string log_level = "warn";
    bool allow_shared_ip = false;

    // Adds the options to `cmd`; `timeout_help` empty leaves --timeout out.
    void add_to(CLI::App* cmd, const std::string& timeout_help, const std::string& json_help);
    // Valid after parsing (the validators ran).
    overlay::overlay_config config() const;
    endpoint bind_endpoint() const;
    // The IPv6 socket beside the IPv4 one, if --bind6 asks for one here.
    std::optional<ipv6_socket> ipv6() const;
    duration timeout_duration() const;
};

} // namespace ovl::cli
