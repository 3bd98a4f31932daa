#include "cli/endpoint_option.hpp"

#include <CLI/Error.hpp>
#include <CLI/Validators.hpp>

#include <charconv>

namespace ovl::cli {

std::optional<endpoint> parse_endpoint(std::string_view text, port_rule rule, std::string& error) {
    const std::string quoted = "'" + std::string(text) + "'";
    std::string_view host = text;
    std::optional<std::string_view> port_text;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) {
            error = quoted + ": missing ']' after the IPv6 address";
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                error = quoted + ": expected ':PORT' after ']'";
                return std::nullopt;
            }
            port_text = rest.substr(1);
        }
    } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            error = quoted + ": write IPv6 endpoints as [ADDRESS]:PORT";
            return std::nullopt;
        }
    }
    auto address = ip_address::parse(host);
    if (!address) {
        error = quoted + ": '" + std::string(host) +
                "' is not an IP address (expected IP:PORT such as 192.0.2.1:6881; host names are not resolved)";
        return std::nullopt;
    }
    std::uint16_t port = 0;
    if (!port_text) {
        if (rule != port_rule::optional) {
            error = quoted + ": missing port (expected IP:PORT such as 192.0.2.1:6881)";
            return std::nullopt;
        }
    } else {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port_text->data(), port_text->data() + port_text->size(), value);
        if (port_text->empty() || ec != std::errc{} || end != port_text->data() + port_text->size() || value > 65535) {
            error = quoted + ": '" + std::string(*port_text) + "' is not a port number (0-65535)";
            return std::nullopt;
        }
        port = static_cast<std::uint16_t>(value);
        if (port == 0 && rule == port_rule::required_nonzero) {
            error = quoted + ": port 0 cannot be contacted (expected 1-65535)";
            return std::nullopt;
        }
    }
    return endpoint{*address, port};
}

CLI::Validator endpoint_validator(port_rule rule) {
    return CLI::Validator(
        [rule](std::string& text) {
            std::string error;
            return parse_endpoint(text, rule, error) ? std::string{} : error;
        },
        rule == port_rule::optional ? "IP[:PORT]" : "IP:PORT");
}

} // namespace ovl::cli
