#include "sim/site.hpp"

namespace ovl::sim {

namespace {
// Links inside a site cost nothing, so every site sees the internet through `access` alone.
const link_params inside = make_link(duration{});
} // namespace

site add_site(network& net, address_plan& plan, std::string_view preset, const link_params& access,
              const std::optional<nat_config>& ipv6) {
    if (preset == "mix") preset = sample_mix(net.random());
    const nat_config config = nat_preset(preset); // validates the name first
    site s;
    s.preset = std::string(preset);
    if (preset == "open") {
        s.host = net.add_public_host(plan.next_public(), access);
    } else if (preset == "firewall") {
        s.nat = net.add_nat(config, plan.next_public(), access);
        s.host = net.add_private_host(*s.nat, plan.next_public(), inside);
    } else if (preset == "cgnat") {
        s.carrier = net.add_nat(config, plan.next_public(), access);
        s.nat = net.add_nat(nat_preset("port-restricted-cone"), plan.next_shared(), inside, s.carrier);
        s.host = net.add_private_host(*s.nat, plan.next_private(), inside);
    } else {
        s.nat = net.add_nat(config, plan.next_public(), access);
        s.host = net.add_private_host(*s.nat, plan.next_private(), inside);
    }
    if (ipv6) {
        if (s.carrier) net.enable_ipv6(*s.carrier, nat_preset("open"));
        if (s.nat) net.enable_ipv6(*s.nat, *ipv6);
        net.add_ipv6(s.host, plan.next_public6());
    }
    return s;
}

} // namespace ovl::sim
