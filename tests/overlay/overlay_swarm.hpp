// Overlay peers on the simulated internet: public introducers and peers behind NAT
// presets, IPv4-only or dual-stack, all running the real overlay_node core. Shared by the
// overlay simulator tests.
#pragma once

#include "dht/base/log.hpp"
#include "overlay/overlay_node.hpp"
#include "sim/network.hpp"
#include "sim/site.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ovl::test {

struct overlay_member {
    std::string preset;
    sim::site site;
    endpoint local;
    // A dual-stack peer's IPv6 socket address (same port as `local`).
    std::optional<endpoint> local6;
    std::unique_ptr<overlay::overlay_node> node;
    sim::udp_binding* binding = nullptr;
    timestamp joined{};
    bool alive = true;
};

// Whether the swarm's public peers (introducers, bootstrap seeds) have IPv6 beside IPv4:
// dual-stack peers need them for the IPv6 DHT.
enum class public_stack { ipv4, dual };

class overlay_swarm {
public:
    explicit overlay_swarm(sim::network& net, overlay::overlay_config base = default_config(),
                           public_stack publics = public_stack::ipv4);

    static overlay::overlay_config default_config();

    // Adds a peer behind `preset` ("open" = public) and starts it now.
    overlay_member& add(std::string_view preset, const sim::link_params& access = sim::make_link(std::chrono::milliseconds(20)),
                        logger_ptr log = null_logger());
    // The same, with settings other than the swarm's (bootstrap and addresses are filled in).
    overlay_member& add_configured(std::string_view preset, const overlay::overlay_config& config);
    // A dual-stack peer: behind `preset` for IPv4, and for IPv6 behind its router's firewall
    // `firewall6` (sim::add_site's ipv6); its node gets local6 and both DHT families.
    overlay_member& add_dual_stack(std::string_view preset, const sim::nat_config& firewall6,
                                   const sim::link_params& access = sim::make_link(std::chrono::milliseconds(20)),
                                   logger_ptr log = null_logger());
    // Adds a peer on the same LAN as `sibling`, behind the same NAT.
    overlay_member& add_beside(const overlay_member& sibling);
    // `n` public peers, 100 ms apart, then 2 s to settle: the introducers (the first
    // three are everyone's bootstrap nodes).
    void add_introducers(int n);
    void kill(overlay_member& m);
    // `from` connects to `to` by peer id; nullopt if nothing was reported by `timeout`.
    std::optional<overlay::connect_result> connect(overlay_member& from, overlay_member& to, duration timeout);
    // Writes `data` on `from`'s connection (as fast as the stream takes it) and returns
    // what `to` reads from the incoming connection it opened, once that is as much as was
    // sent or `timeout` has passed.
    bytes transfer(overlay_member& from, overlay::connection_id id, overlay_member& to, const bytes& data,
                   duration timeout);
    void run_for(duration d) { net_.run_for(d); }
    std::vector<std::unique_ptr<overlay_member>>& members() { return members_; }

private:
    std::unique_ptr<overlay_member> make(std::string_view preset, const sim::link_params& access,
                                         const std::optional<sim::nat_config>& firewall6);
    overlay_member& start(std::unique_ptr<overlay_member> m, bool seed, logger_ptr log,
                          const overlay::overlay_config* config = nullptr);

    sim::network& net_;
    sim::address_plan plan_;
    overlay::overlay_config base_;
    public_stack publics_;
    std::vector<endpoint> seeds_;
    std::vector<endpoint> seeds6_;
    std::vector<std::unique_ptr<overlay_member>> members_;
};

} // namespace ovl::test
