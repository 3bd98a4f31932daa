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
// private contacts accept them), private from 10.0.0.0/8, carrier space from 100.64.0.0/10.
class address_plan {
public:
    ip_address next_public() { return next(public_, 20u << 24); }
    ip_address next_private() { return next(private_, 10u << 24); }
    ip_address next_shared() { return next(shared_, (100u << 24) | (64u << 16)); }

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
site add_site(network& net, address_plan& plan, std::string_view preset,
              const link_params& access = {});

} // namespace ovl::sim
