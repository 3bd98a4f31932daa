#include "cli/ipv6_setting.hpp"

#include "cli/endpoint_option.hpp"
#include "cli/local_address.hpp"

#include <CLI/App.hpp>

namespace ovl::cli {

std::optional<std::string> check_ipv6_setting(const std::string& text) {
    if (text == "off" || text == "auto") return std::nullopt;
    std::string error;
    const auto ep = parse_endpoint(text, port_rule::optional, error);
    if (!ep) return "\"" + text + "\" is not off, auto or [IPv6]:PORT (" + error + ")";
    if (!ep->address.is_v6()) return "\"" + text + "\" is not an IPv6 address (write it as [ADDRESS]:PORT)";
    if (ep->address.is_v4_mapped()) return "\"" + text + "\" is an IPv4-mapped address: use the IPv4 option for IPv4";
    return std::nullopt;
}

CLI::Validator ipv6_setting_validator() {
    return CLI::Validator([](std::string& text) { return check_ipv6_setting(text).value_or(""); }, "off|auto|[IPv6]:PORT");
}

std::optional<ipv6_socket> resolve_ipv6_setting(const std::string& text, const std::vector<endpoint>& toward) {
    if (text == "off") return std::nullopt;
    const auto unspecified = *ip_address::parse("::");
    if (text == "auto") {
        if (!global_ipv6_source(toward)) return std::nullopt;
        return ipv6_socket{endpoint{unspecified, 0}, false};
    }
    std::string error;
    return ipv6_socket{*parse_endpoint(text, port_rule::optional, error), true};
}

} // namespace ovl::cli
