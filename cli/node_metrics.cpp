#include "cli/node_metrics.hpp"

#include <fmt/format.h>

#include <initializer_list>
#include <utility>

namespace ovl::cli {

namespace {

struct writer {
    std::string out;

    void family(const char* name, const char* type, const char* help) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    void sample(const char* name, double value) { out += fmt::format("{} {}\n", name, value); }
    void one(const char* name, const char* type, const char* help, double value) {
        family(name, type, help);
        sample(name, value);
    }
    // One family whose samples differ by one label, e.g. type="ping".
    void labelled(const char* name, const char* type, const char* help, const char* label,
                  std::initializer_list<std::pair<const char*, std::uint64_t>> values) {
        family(name, type, help);
        for (const auto& [value_label, v] : values) out += fmt::format("{}{{{}=\"{}\"}} {}\n", name, label, value_label, v);
    }
};

} // namespace

std::string prometheus_text(const overlay::overlay_node& node) {
    const auto& dht = node.dht();
    const auto& d = dht.stats();
    const auto& intro = node.introducer();
    const auto& i = intro.stats();
    const auto& r = intro.relays().stats();
    writer w;
    w.one("overlay_dht_routing_table_nodes", "gauge", "DHT nodes in the IPv4 routing table.",
          static_cast<double>(dht.table().size()));
    w.one("overlay_dht_routing_table_nodes_ipv6", "gauge", "DHT nodes in the IPv6 routing table (BEP 32).",
          static_cast<double>(dht.table(ip_family::v6).size()));
    w.labelled("overlay_dht_queries_total", "counter", "DHT queries answered, by query type.", "type",
               {{"ping", d.queries_ping},
                {"find_node", d.queries_find_node},
                {"get_peers", d.queries_get_peers},
                {"announce_peer", d.queries_announce},
                {"extension", d.queries_extension},
                {"unknown", d.queries_unknown}});
    w.labelled("overlay_dht_datagrams_total", "counter", "UDP datagrams handled by the node.", "direction",
               {{"in", d.datagrams_in}, {"out", d.datagrams_out}});
    w.labelled("overlay_dht_dropped_total", "counter", "Datagrams dropped, by reason.", "reason",
               {{"malformed", d.dropped_malformed},
                {"unmatched", d.dropped_unmatched},
                {"outbox_full", d.dropped_outbox_full},
                {"rate_limited", d.dropped_rate_limited}});
    w.one("overlay_dht_stored_peers", "gauge", "Peers announced to this node and stored for others.",
          static_cast<double>(dht.storage().peer_count()));
    w.one("overlay_dht_storage_bytes", "gauge", "Memory held by stored peers and BEP 44 items.",
          static_cast<double>(dht.storage().memory_bytes() + dht.items().memory_bytes()));
    w.one("overlay_introducer_serving", "gauge",
          "1 while this node is verified publicly reachable and serves as an introducer.",
          node.serving_as_introducer() && intro.limits().enabled ? 1 : 0);
    w.one("overlay_registrations", "gauge", "Registrations (peers behind NATs) held now.",
          static_cast<double>(intro.registrations().size()));
    w.labelled("overlay_registrations_total", "counter", "Registration requests, by outcome.", "result",
               {{"accepted", i.registrations_accepted},
                {"refused_full", i.registrations_refused},
                {"bad_signature", i.bad_signatures}});
    w.one("overlay_registration_signature_checks_total", "counter",
          "Ed25519 verifications of registrations (a keepalive repeating a verified one needs none).",
          static_cast<double>(i.signature_checks));
    w.labelled("overlay_introductions_total", "counter", "Introduction and relay requests, by outcome.", "result",
               {{"ok", i.introductions_ok},
                {"unknown_target", i.introductions_unknown_target},
                {"rate_limited", i.introductions_rate_limited}});
    w.one("overlay_introducer_refused_not_serving_total", "counter",
          "Introducer requests refused because this node does not serve as an introducer.",
          static_cast<double>(i.refused_not_serving));
    w.one("overlay_relay_sessions", "gauge", "Relayed sessions open now.", static_cast<double>(intro.relays().sessions()));
    w.labelled("overlay_relay_sessions_total", "counter", "Relay session requests, by outcome.", "result",
               {{"opened", r.sessions_opened}, {"refused", r.sessions_refused}});
    w.one("overlay_relay_bytes_total", "counter", "Bytes relayed between peers.", static_cast<double>(r.bytes_relayed));
    w.one("overlay_relay_period_bytes", "gauge", "Bytes relayed in the current 30-day budget period.",
          static_cast<double>(intro.relays().period_bytes()));
    w.labelled("overlay_relay_frames_dropped_total", "counter", "Relay frames dropped, by reason.", "reason",
               {{"over_rate", r.frames_over_rate},
                {"over_budget", r.frames_over_budget},
                {"other", r.frames_dropped - r.frames_over_rate - r.frames_over_budget}});
    return std::move(w.out);
}

} // namespace ovl::cli
