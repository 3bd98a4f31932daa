#include "overlay_swarm.hpp"

namespace ovl::test {

overlay_swarm::overlay_swarm(sim::network& net, overlay::overlay_config base, public_stack publics)
    : net_(net), base_(std::move(base)), publics_(publics) {}

overlay::overlay_config overlay_swarm::default_config() {
    overlay::overlay_config c;
    c.dial_back_wait = std::chrono::seconds(2);
    return c;
}

std::unique_ptr<overlay_member> overlay_swarm::make(std::string_view preset, const sim::link_params& access,
                                                    const std::optional<sim::nat_config>& firewall6) {
    auto m = std::make_unique<overlay_member>();
    // Public peers of a dual-stack swarm have open IPv6 (no device in front of them).
    const bool dual_public = preset == "open" && publics_ == public_stack::dual;
    m->site = sim::add_site(net_, plan_, preset, access, dual_public ? sim::nat_preset("open") : firewall6);
    m->preset = m->site.preset;
    return m;
}

overlay_member& overlay_swarm::add(std::string_view preset, const sim::link_params& access, logger_ptr log) {
    return start(make(preset, access, std::nullopt), preset == "open", std::move(log));
}

overlay_member& overlay_swarm::add_dual_stack(std::string_view preset, const sim::nat_config& firewall6,
                                              const sim::link_params& access, logger_ptr log) {
    return start(make(preset, access, firewall6), preset == "open", std::move(log));
}

overlay_member& overlay_swarm::add_configured(std::string_view preset, const overlay::overlay_config& config) {
    return start(make(preset, sim::make_link(std::chrono::milliseconds(20)), std::nullopt), preset == "open",
                 null_logger(), &config);
}

overlay_member& overlay_swarm::add_beside(const overlay_member& sibling) {
    auto m = std::make_unique<overlay_member>();
    m->site = sibling.site;
    m->site.host = net_.add_private_host(*sibling.site.nat, plan_.next_private());
    m->preset = sibling.preset;
    return start(std::move(m), false, null_logger());
}

overlay_member& overlay_swarm::start(std::unique_ptr<overlay_member> m, bool seed, logger_ptr log,
                                     const overlay::overlay_config* custom) {
    m->local = endpoint{net_.address(m->site.host), 6881};
    if (auto address6 = net_.address6(m->site.host)) m->local6 = endpoint{*address6, 6881};
    auto config = custom ? *custom : base_;
    config.local = m->local;
    // Peers offer their own address to peers behind the same NAT.
    if (m->local.address.is_private()) config.lan = {m->local};
    config.dht.bootstrap = seeds_;
    // A dual-stack host tells its node the IPv6 socket (the one binding takes both
    // families) and joins the IPv6 DHT through the seeds' IPv6 endpoints.
    if (m->local6) {
        config.local6 = m->local6;
        config.dht.families = {true, true};
        config.dht.bootstrap.insert(config.dht.bootstrap.end(), seeds6_.begin(), seeds6_.end());
    }
    auto& rng = net_.random();
    auto self = overlay::identity::generate(rng);
    m->node = std::make_unique<overlay::overlay_node>(config, std::move(self), random_source(rng.derive_seed()), std::move(log),
                                                      net_.now());
    m->binding = &net_.bind_udp(m->site.host, 6881, *m->node);
    m->joined = net_.now();
    // The first few public peers are everyone's bootstrap nodes.
    if (seed && seeds_.size() < 3) {
        seeds_.push_back(m->local);
        if (m->local6) seeds6_.push_back(*m->local6);
    }
    m->node->start(net_.now());
    m->binding->poke();
    members_.push_back(std::move(m));
    return *members_.back();
}

void overlay_swarm::add_introducers(int n) {
    for (int i = 0; i < n; ++i) {
        add("open");
        run_for(std::chrono::milliseconds(100));
    }
    run_for(std::chrono::seconds(2));
}

std::optional<overlay::connect_result> overlay_swarm::connect(overlay_member& from, overlay_member& to, duration timeout) {
    std::optional<overlay::connect_result> result;
    from.node->connect(net_.now(), to.node->self().public_key_bytes(),
                       [&](timestamp, const overlay::connect_result& r) { result = r; });
    from.binding->poke();
    net_.run_until([&] { return result.has_value(); }, net_.now() + timeout);
    return result;
}

bytes overlay_swarm::transfer(overlay_member& from, overlay::connection_id id, overlay_member& to, const bytes& data,
                              duration timeout) {
    std::size_t written = 0;
    bytes received;
    std::optional<overlay::connection_id> incoming;
    net_.run_until(
        [&] {
            if (written < data.size()) {
                written += from.node->write(id, bytes_view(data).subspan(written));
                from.binding->poke();
            }
            while (auto e = to.node->poll_event())
                if (e->what == overlay::connection_event::kind::opened && e->incoming) incoming = e->id;
            if (incoming) {
                auto chunk = to.node->read(*incoming);
                received.insert(received.end(), chunk.begin(), chunk.end());
            }
            return received.size() >= data.size();
        },
        net_.now() + timeout);
    return received;
}

void overlay_swarm::kill(overlay_member& m) {
    m.alive = false;
    net_.kill_host(m.site.host);
}

} // namespace ovl::test
