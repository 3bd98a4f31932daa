// Building whole sites from preset names: the host, and the NAT(s) or firewall in front of
// it, with addresses from a plan so that thousands of sites never collide.
#pragma once

#include "sim/ids.hpp"
#include "sim/link.hpp"
#include "sim/network.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace ovl::sim {

// Sequential, unique addresses: public from 20.0.0.0/8 upward (global, so cores that refuse
// private contacts accept them), private from 10.0.0.0/8, carrier space from 100.64.0.0/10;
// IPv6 from 2001:db8::/32, each in a /64 of its own (2001:db8:H:L::1), because the DHT keeps
// one node per /64 and rate-limits per /64.
class address_plan {
public:
    ip_address next_public() { return next(public_, 20u << 24); }
    ip_address next_private() { return next(private_, 10u << 24); }
    ip_address next_shared() { return next(shared_, (100u << 24) | (64u << 16)); }
    ip_address next_public6() {
        const std::uint32_t k = ++public6_;
        return ip_address::v6({0x20, 0x01, 0x0d, 0xb8, std::uint8_t(k >> 24), std::uint8_t(k >> 16),
                               std::uint8_t(k >> 8), std::uint8_t(k), 0, 0, 0, 0, 0, 0, 0, 1});
    }

private:
    static ip_address next(std::uint32_t& counter, std::uint32_t base) {
        // Skip .0 and .255 so no address looks like a network or broadcast address.
        std::uint32_t v;
        do v = base + ++counter;
        while ((v & 0xff) == 0 || (v & 0xff) == 0xff);
        return ip_address::v4(v);
    }
    std::uint32_t public_ = 0;
    std::uint32_t private_ = 0;
    std::uint32_t shared_ = 0;
    std::uint32_t public6_ = 0;
};

struct site {
    host_id host;
    std::string preset;            // the preset built ("mix" resolves to one of the others)
    std::optional<nat_id> nat;     // the device directly in front of the host
    std::optional<nat_id> carrier; // the carrier-grade NAT, for "cgnat"
};

// Builds one host behind `preset`: "open" is a public host; "firewall" a public host behind a
// stateful firewall; "cgnat" a home NAT (port-restricted-cone) inside a carrier-grade NAT;
// "mix" samples a preset with the network's random source; other presets put the host
// behind one NAT of that kind. The outermost device (or the host) gets `access`; links
// inside the site are free. Throws on unknown names.
// With `ipv6` the host is dual-stack: it also gets a global IPv6 address, which the device
// in front of it forwards untranslated through a stateful firewall configured by `ipv6`
// (nat_preset("firewall") is the typical home router, "open" filters nothing; set
// udp_blocked to block IPv6 UDP); a cgnat site's carrier passes IPv6 unfiltered. An "open"
// host has no device in front of it: its IPv6 is as unfiltered as its IPv4, whatever `ipv6`
// says (so that "mix" works with any `ipv6`).
site add_site(network& net, address_plan& plan, std::string_view preset,
              const link_params& access = {}, const std::optional<nat_config>& ipv6 = std::nullopt);

} // namespace ovl::sim
