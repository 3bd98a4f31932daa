#include "cli/session_options.hpp"

#include "cli/endpoint_option.hpp"

#include <CLI/App.hpp>

namespace ovl::cli {

void session_options::add_to(CLI::App* cmd, const std::string& timeout_help, const std::string& json_help) {
    cmd->add_option("--bootstrap", bootstrap, "overlay or DHT node to start from, IP:PORT; repeatable (required)")
        ->check(endpoint_validator(port_rule::required_nonzero));
    cmd->add_option("--bind", bind, "local UDP address, IP[:PORT]")->check(endpoint_validator(port_rule::optional));
    cmd->add_option("--bind6", bind6,
                    "IPv6 socket beside the IPv4 one: off; auto (on [::], the IPv4 socket's port number when free, "
                    "only if this host has a global IPv6 address); or [ADDRESS]:PORT. Default auto")
        ->check(ipv6_setting_validator());
    cmd->add_flag("--json", json, json_help);
    if (!timeout_help.empty()) cmd->add_option("--timeout", timeout, timeout_help)->check(CLI::Range(0.1, 86400.0));
    cmd->add_option("--log-level", log_level, "stderr log level: trace, debug, info, warn, error or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    cmd->add_flag("--allow-shared-ip", allow_shared_ip,
                  "allow several routing-table entries per IP; for labs and loopback tests");
}

overlay::overlay_config session_options::config() const {
    overlay::overlay_config c;
    c.dht.table.one_node_per_ip = !allow_shared_ip;
    // Bound to an IPv6 address: an IPv6-only peer (its bootstrap nodes must be IPv6 ones).
    if (bind_endpoint().address.is_v6()) c.dht.families = {false, true};
    std::string error;
    for (const auto& text : bootstrap) c.dht.bootstrap.push_back(*parse_endpoint(text, port_rule::required_nonzero, error));
    return c;
}

endpoint session_options::bind_endpoint() const {
    std::string error;
    return *parse_endpoint(bind, port_rule::optional, error);
}

std::optional<ipv6_socket> session_options::ipv6() const {
    if (bind_endpoint().address.is_v6()) return std::nullopt;
    return resolve_ipv6_setting(bind6, config().dht.bootstrap);
}

duration session_options::timeout_duration() const {
    return std::chrono::duration_cast<duration>(std::chrono::duration<double>(timeout));
}

} // namespace ovl::cli
