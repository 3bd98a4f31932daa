// Overlay peers on the simulated internet: public introducers and peers behind NAT
// presets, all running the real overlay_node core. Shared by the overlay simulator tests.
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
    std::unique_ptr<overlay::overlay_node> node;
    sim::udp_binding* binding = nullptr;
    timestamp joined{};
    bool alive = true;
};

class overlay_swarm {
public:
    explicit overlay_swarm(sim::network& net, overlay::overlay_config base = default_config());

    static overlay::overlay_config default_config();

    // Adds a peer behind `preset` ("open" = public) and starts it now.
    overlay_member& add(std::string_view preset, const sim::link_params& access = sim::make_link(std::chrono::milliseconds(20)),
                        logger_ptr log = null_logger());
    // The same, with settings other than the swarm's (bootstrap and addresses are filled in).
    overlay_member& add_configured(std::string_view preset, const overlay::overlay_config& config);
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
    overlay_member& start(std::unique_ptr<overlay_member> m, bool seed, logger_ptr log,
                          const overlay::overlay_config* config = nullptr);

    sim::network& net_;
    sim::address_plan plan_;
    overlay::overlay_config base_;
    std::vector<endpoint> seeds_;
    std::vector<std::unique_ptr<overlay_member>> members_;
};

} // namespace ovl::test
