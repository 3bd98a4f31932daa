#include "overlay/torrent/plugin_impl.hpp"

#include "dht/bencode/decode.hpp"
#include "overlay/torrent/lt_endpoint.hpp"

#include <libtorrent/alert_types.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>

#include <algorithm>

namespace ovl::torrent {

namespace {
using namespace std::chrono_literals;
// Pings (which open our NAT toward the peer) go out this often during a punch; libtorrent
// is asked to connect at the start and once more halfway through the pings.
constexpr auto punch_round = 1s;
constexpr int punch_rounds = 3;
// Candidates beyond the first few (predicted ports) are not worth a connection each.
constexpr std::size_t max_connect_candidates = 4;
// A torrent whose last lookup found nobody looks again soon: peers publish only once
// their introducers accepted them.
constexpr auto empty_lookup_retry = 5s;
constexpr auto introduce_again_after = 60s;
constexpr auto republish_interval = 10min;

std::int64_t unix_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string short_id(const std::string& hex) { return hex.substr(0, 16); }
} // namespace

overlay_plugin::impl::impl(plugin_settings s, overlay::identity id)
    : settings(std::move(s)), log(settings.log ? settings.log : null_logger()), self(std::move(id)), self_id(self.peer_id()) {}

void overlay_plugin::impl::attach(const lt::session_handle& s) {
    session = s;
    bridge.emplace(s, log);
}

void overlay_plugin::impl::start(timestamp now) {
    overlay::overlay_config config;
    for (const auto& text : settings.bootstrap) {
        if (auto ep = endpoint::parse(text))
            config.dht.bootstrap.push_back(*ep);
        else
            log->warn("overlay plugin: ignoring bootstrap {:?}: not IP:PORT", text);
    }
    config.assumed_reachability = settings.introducer ? overlay::reachability::reachable : overlay::reachability::unreachable;
    // libtorrent carries only what it connects itself: no relayed path through it.
    config.policy = overlay::path_policy::direct_only;
    config.relay.enabled = false;
    config.record_seq_base = unix_seconds();
    if (settings.bridge) start_native(config);
    node = std::make_unique<overlay::overlay_node>(std::move(config), self, random_source::from_os(), log, now);
    node->set_introduction_handler([this](timestamp t, const overlay::introduction& in) { on_introduction(t, in); });
    node->start(now);
    log->info("overlay plugin started: peer id {}, {}", self_id,
              settings.introducer ? "serving as introducer" : "registering with introducers");
}

void overlay_plugin::impl::start_native(const overlay::overlay_config& core) {
    overlay::overlay_config config;
    config.dht.bootstrap = core.dht.bootstrap;
    // Volunteering is the core's part (settings.introducer); the bridge carries only our
    // own streams.
    config.introducer.enabled = false;
    config.relay.enabled = false;
    try {
        // Its own logger name: the bridge's node logs the same kinds of lines as the core.
        native = std::make_unique<bridge_endpoint>(std::move(config), bridge_identity(self), self.public_key_bytes(),
                                                   endpoint{ip_address::v4(0), 0}, log->clone(log->name() + ".bridge"));
        update_bridge_torrents();
    } catch (const std::exception& e) {
        log->warn("overlay plugin: no bridge, its UDP socket cannot be opened: {}", e.what());
    }
}

void overlay_plugin::impl::update_bridge_torrents() {
    if (!native) return;
    std::set<std::string> rdvs;
    for (const auto& [rdv, t] : torrents)
        if (takes_part(t)) rdvs.insert(rdv);
    native->set_torrents(std::move(rdvs));
}

void overlay_plugin::impl::stop() {
    stopped = true;
    punches.clear();
    native.reset();
    node.reset();
}

void overlay_plugin::impl::tick(timestamp now) {
    now_ = now;
    if (!session || stopped) return;
    if (!node) {
        // Until libtorrent's DHT runs, our queries would vanish.
        if (!session->is_dht_running()) return;
        start(now);
    }
    if (auto d = node->next_deadline(); d && *d <= now) node->on_timeout(now);
    if (native) {
        if (const auto port = session->listen_port(); port != 0)
            native->set_listen({listen_address.value_or(ip_address::v4(0x7f000001)), port});
        service_bridge(now);
        // Peers choose the bridge at once for a symmetric NAT: republish when it is known.
        if (auto v = native->nat_verdict(); v != published_nat && v != "unknown") {
            published_nat = std::move(v);
            for (auto& [rdv, t] : torrents) t.next_publish = std::min(t.next_publish, now);
        }
    }
    const bool registered = !node->registrations().introducers().empty();
    if (registered && !announced_registration) {
        announced_registration = true;
        emit(plugin_event::kind::registered, self_id, {},
             fmt::format("registered with {} introducers", node->registrations().introducers().size()));
    }
    for (auto& [rdv, t] : torrents) {
        if (!takes_part(t) || !t.handle.is_valid()) continue;
        if (registered && now >= t.next_publish) publish(now, t);
        if (now >= t.next_lookup && node->dht().table().size() > 0) {
            t.next_lookup = now + settings.lookup_interval;
            const auto st = t.handle.status({});
            if (!st.is_seeding && !st.is_finished) look_up(now, t);
        }
    }
    service_punches(now);
    bridge->flush(*node, now);
}

bool overlay_plugin::impl::on_request(timestamp now, lt::string_view query, const lt::udp::endpoint& source,
                                      const lt::bdecode_node& message, lt::entry& response) {
    now_ = now;
    if (!node || !query.starts_with("ovl_")) return false;
    const bool answered = bridge->on_request(*node, now, source, message, response);
    service_punches(now);
    bridge->flush(*node, now);
    return answered;
}

void overlay_plugin::impl::on_alert(timestamp now, const lt::alert& a) {
    now_ = now;
    // Accepted bridge streams go to the listen socket: loopback unless it is bound to one
    // interface.
    if (const auto* l = lt::alert_cast<lt::listen_succeeded_alert>(&a);
        l && l->socket_type == lt::socket_type_t::tcp && l->address.is_v4()) {
        if (l->address.is_unspecified())
            listen_address.reset();
        else
            listen_address = from_lt(lt::address(l->address));
    }
    if (node && bridge->on_alert(*node, now, a)) bridge->flush(*node, now);
}

std::string overlay_plugin::impl::add_torrent(const lt::torrent_handle& h) {
    const auto hashes = h.info_hashes();
    const auto best = hashes.has_v1() ? std::string(hashes.v1.data(), hashes.v1.size())
                                      : std::string(hashes.v2.data(), hashes.v2.size());
    torrent_entry t{h, rendezvous_for({reinterpret_cast<const std::uint8_t*>(best.data()), best.size()}), false, {}, {}, 0};
    if (auto ti = h.torrent_file()) t.is_private = ti->priv();
    if (!takes_part(t)) log->info("overlay plugin: private torrent left out (private_rendezvous is off)");
    auto key = t.rdv.hash;
    torrents.insert_or_assign(key, std::move(t));
    update_bridge_torrents();
    return key;
}

void overlay_plugin::impl::remove_torrent(const std::string& rdv) {
    torrents.erase(rdv);
    std::erase_if(punches, [&](const punch& p) { return p.rdv == rdv; });
    update_bridge_torrents();
}

void overlay_plugin::impl::publish(timestamp now, torrent_entry& t) {
    t.next_publish = now + republish_interval;
    const auto& mine = self.public_key_bytes();
    const auto key = t.rdv.key;
    const slot_entry entry{mine, native ? std::optional(native->peer_id()) : std::nullopt, published_nat};
    t.seq = std::max(unix_seconds(), t.seq + 1);
    node->dht().put_item(now, key.public_key_bytes(), slot_salt(slot_of(mine)), t.seq, encode_slot(entry),
                         [key](std::span<const std::uint8_t> m) { return key.sign(m); },
                         [this](timestamp, const dht::put_item_result& r) {
                             log->info("overlay plugin: peer id published for a torrent on {} nodes", r.stored_at);
                         });
}

void overlay_plugin::impl::look_up(timestamp now, torrent_entry& t) {
    auto found = std::make_shared<int>(0);
    auto pending = std::make_shared<int>(rendezvous_slots);
    const auto rdv = t.rdv.hash;
    for (int slot = 0; slot < rendezvous_slots; ++slot) {
        node->dht().get_item(now, t.rdv.key.public_key_bytes(), slot_salt(slot),
                             [this, rdv, found, pending](timestamp at, const std::optional<dht::mutable_item>& item,
                                                         const dht::lookup_result&) {
                                 if (item) {
                                     auto v = bencode::decode({reinterpret_cast<const std::uint8_t*>(item->value.data()),
                                                               item->value.size()});
                                     auto peer = v ? decode_slot(*v) : std::nullopt;
                                     if (peer && peer->peer != self.public_key_bytes()) {
                                         ++*found;
                                         request_introduction(at, rdv, *peer);
                                     }
                                 }
                                 if (--*pending == 0 && *found == 0)
                                     if (auto it = torrents.find(rdv); it != torrents.end())
                                         it->second.next_lookup = std::min(it->second.next_lookup, at + empty_lookup_retry);
                             });
    }
}

void overlay_plugin::impl::request_introduction(timestamp now, const std::string& rdv, const slot_entry& entry) {
    const auto& peer = entry.peer;
    auto& when = next_try[{rdv, peer}];
    if (when > now) return;
    when = now + introduce_again_after;
    const auto peer_id = overlay::to_hex(peer);
    {
        std::lock_guard lock(paths_mutex);
        for (const auto& p : path_table)
            if (p.peer_id == peer_id && (p.state == path_state::direct_utp || p.state == path_state::direct_tcp ||
                                         p.state == path_state::relayed || p.state == path_state::direct_udp ||
                                         p.state == path_state::bridging))
                return;
    }
    emit(plugin_event::kind::introduction_requested, peer_id, {}, {});
    node->introduce(now, peer, rdv, [this, rdv, peer, peer_id, entry](timestamp t, const overlay::connect_result& r) {
        if (!r.ok) {
            set_path(peer_id, {}, path_state::failed, 0, "introduction failed: " + r.error, true);
            emit(plugin_event::kind::punch_failed, peer_id, {}, "introduction failed: " + r.error);
            return;
        }
        punch p;
        p.rdv = rdv;
        p.peer = peer;
        p.candidates = r.candidates;
        p.peer_nat = r.peer_nat;
        p.initiated = true;
        p.bridge = entry.bridge;
        // The plugin's core cannot tell a symmetric NAT (no dial-back on libtorrent's
        // socket); the peer's bridge can, and says so in its slot.
        if (entry.nat == "nat-symmetric") p.peer_nat = entry.nat;
        // libtorrent's uTP cannot cross a symmetric NAT: straight to the bridge.
        if (p.bridge && native && symmetric_path(p)) {
            p.started = t;
            start_bridge(t, p, p.peer_nat == "nat-symmetric" ? "the peer is behind a symmetric NAT"
                                                             : "we are behind a symmetric NAT");
            return;
        }
        start_punch(t, std::move(p));
    });
}

void overlay_plugin::impl::on_introduction(timestamp now, const overlay::introduction& in) {
    auto it = torrents.find(in.ctx);
    if (it == torrents.end() || !takes_part(it->second) || in.candidates.empty()) {
        log->info("overlay plugin: introduction from {} for a torrent we do not have", short_id(overlay::to_hex(in.peer)));
        return;
    }
    emit(plugin_event::kind::introduction_received, overlay::to_hex(in.peer), in.candidates.front().to_string(),
         "via " + in.introducer.to_string());
    punch p;
    p.rdv = in.ctx;
    p.peer = in.peer;
    p.candidates = in.candidates;
    p.peer_nat = in.peer_nat;
    start_punch(now, std::move(p));
}

void overlay_plugin::impl::start_punch(timestamp now, punch p) {
    auto it = torrents.find(p.rdv);
    if (it == torrents.end() || p.candidates.empty()) return;
    p.started = now;
    p.next = now + punch_round;
    const auto count = std::min(p.candidates.size(), max_connect_candidates);
    for (std::size_t i = 0; i < count; ++i) {
        bridge->ping(p.candidates[i]);
        it->second.handle.connect_peer(to_lt_tcp(p.candidates[i]));
    }
    set_path(overlay::to_hex(p.peer), p.candidates.front(), path_state::punching, 0, {}, p.initiated);
    std::erase_if(punches, [&](const punch& q) { return q.rdv == p.rdv && q.peer == p.peer; });
    punches.push_back(std::move(p));
}

void overlay_plugin::impl::service_punches(timestamp now) {
    for (auto it = punches.begin(); it != punches.end();) {
        auto& p = *it;
        const auto t = torrents.find(p.rdv);
        if (t == torrents.end()) {
            it = punches.erase(it);
            continue;
        }
        if (now - p.started > settings.punch_timeout) {
            auto reason = fmt::format("no BitTorrent connection within {} s: {}", settings.punch_timeout.count(),
                                      symmetric_path(p) ? "a symmetric NAT is on the path (a new port per destination)"
                                                        : "the punched packets did not get through (strict firewall, "
                                                          "or the peer left)");
            if (p.initiated && p.bridge && native) {
                start_bridge(now, p, reason);
                it = punches.erase(it);
                continue;
            }
            if (!p.bridge && p.initiated) reason += "; the peer offers no bridge";
            const auto peer_id = overlay::to_hex(p.peer);
            set_path(peer_id, p.candidates.front(), path_state::failed, 0, reason, p.initiated);
            emit(plugin_event::kind::punch_failed, peer_id, p.candidates.front().to_string(), reason);
            it = punches.erase(it);
            continue;
        }
        if (p.round < punch_rounds && now >= p.next) {
            const auto count = std::min(p.candidates.size(), max_connect_candidates);
            for (std::size_t i = 0; i < count; ++i) {
                bridge->ping(p.candidates[i]);
                if (p.round == 1) t->second.handle.connect_peer(to_lt_tcp(p.candidates[i]));
            }
            ++p.round;
            p.next = now + punch_round;
        }
        ++it;
    }
}

bool overlay_plugin::impl::symmetric_path(const punch& p) const {
    return p.peer_nat == "nat-symmetric" || node->profile().verdict == overlay::nat_verdict::nat_symmetric ||
           (native && native->nat_verdict() == "nat-symmetric");
}

void overlay_plugin::impl::start_bridge(timestamp now, const punch& p, const std::string& why) {
    const auto peer_id = overlay::to_hex(p.peer);
    log->info("overlay plugin: opening an overlay bridge to {}: {}", short_id(peer_id), why);
    set_path(peer_id, {}, path_state::bridging, 0, why, p.initiated);
    bridge_dials[peer_id] = p.started == timestamp{} ? now : p.started;
    native->dial(*p.bridge, p.peer, p.rdv);
}

void overlay_plugin::impl::service_bridge(timestamp now) {
    if (!native) return;
    for (auto& e : native->take_events()) {
        const auto peer_id = overlay::to_hex(e.peer);
        switch (e.what) {
        case bridge_event::kind::dial_ready: {
            const auto t = torrents.find(e.rdv);
            if (t == torrents.end()) break;
            const auto since = bridge_dials.contains(peer_id) ? bridge_dials[peer_id] : now;
            loopbacks[e.loopback] = bridged{peer_id, e.path, e.detail, since, true};
            log->info("overlay plugin: bridge to {} open ({}, {}); libtorrent connects to {}", short_id(peer_id),
                      to_string(e.path), e.detail, e.loopback.to_string());
            t->second.handle.connect_peer(to_lt_tcp(e.loopback));
            break;
        }
        case bridge_event::kind::dial_failed: {
            bridge_dials.erase(peer_id);
            auto reason = "overlay bridge failed: " + e.detail;
            set_path(peer_id, {}, path_state::failed, 0, reason, true);
            emit(plugin_event::kind::punch_failed, peer_id, {}, reason);
            break;
        }
        case bridge_event::kind::accepted:
            loopbacks[e.loopback] = bridged{peer_id, e.path, e.detail, now, false};
            break;
        case bridge_event::kind::refused:
            log->info("overlay plugin: refused a bridged stream: {}", e.detail);
            break;
        case bridge_event::kind::closed:
            log->info("overlay plugin: bridged connection with {} closed{}", short_id(peer_id),
                      e.detail.empty() ? "" : ": " + e.detail);
            break;
        }
    }
}

void overlay_plugin::impl::on_handshake(timestamp now, const lt::tcp::endpoint& remote, bool utp) {
    now_ = now;
    const auto ep = from_lt(remote);
    // A bridged connection: its event is in by now (reported before any byte reached
    // libtorrent).
    service_bridge(now);
    if (auto b = loopbacks.find(ep); b != loopbacks.end()) {
        const auto& c = b->second;
        const double ms = to_seconds(now - c.started) * 1000;
        const auto state = c.path == bridge_path::relayed ? path_state::relayed : path_state::direct_udp;
        set_path(c.peer_id, ep, state, ms, {}, c.initiated, c.via);
        emit(plugin_event::kind::punch_succeeded, c.peer_id, ep.to_string(),
             fmt::format("{} over the overlay bridge ({})", to_string(c.path), c.via), ms);
        // A punch still under way toward that peer is moot now.
        std::erase_if(punches, [&](const punch& p) { return overlay::to_hex(p.peer) == c.peer_id; });
        bridge_dials.erase(c.peer_id);
        loopbacks.erase(b);
        return;
    }
    auto it = std::find_if(punches.begin(), punches.end(), [&](const punch& p) {
        return std::find(p.candidates.begin(), p.candidates.end(), ep) != p.candidates.end();
    });
    if (it == punches.end()) return;
    const double ms = to_seconds(now_ - it->started) * 1000;
    const auto peer_id = overlay::to_hex(it->peer);
    set_path(peer_id, ep, utp ? path_state::direct_utp : path_state::direct_tcp, ms, {}, it->initiated);
    emit(plugin_event::kind::punch_succeeded, peer_id, ep.to_string(), utp ? "direct-utp" : "direct-tcp", ms);
    punches.erase(it);
}

bool overlay_plugin::impl::punching(const ip_address& a) const {
    return std::any_of(punches.begin(), punches.end(), [&](const punch& p) {
        return std::any_of(p.candidates.begin(), p.candidates.end(), [&](const endpoint& c) { return c.address == a; });
    });
}

void overlay_plugin::impl::set_path(const std::string& peer_id, const endpoint& ep, path_state state, double ms,
                                    std::string reason, bool initiated, std::string via) {
    std::lock_guard lock(paths_mutex);
    auto it = std::find_if(path_table.begin(), path_table.end(), [&](const peer_path& p) { return p.peer_id == peer_id; });
    if (it == path_table.end()) it = path_table.insert(path_table.end(), peer_path{peer_id, {}, state, 0, {}, initiated, {}});
    if (ep.port != 0) it->endpoint = to_lt_tcp(ep);
    it->state = state;
    it->connect_ms = ms;
    it->reason = std::move(reason);
    it->initiated = initiated;
    it->via = std::move(via);
}

std::vector<peer_path> overlay_plugin::impl::paths() const {
    std::lock_guard lock(paths_mutex);
    return path_table;
}

void overlay_plugin::impl::emit(plugin_event::kind what, std::string peer_id, std::string ep, std::string detail, double ms) {
    log->info("overlay plugin: {} {} {} {}{}", to_string(what), short_id(peer_id), ep, detail,
              ms > 0 ? fmt::format(" in {:.0f} ms", ms) : std::string());
    if (settings.on_event) settings.on_event(plugin_event{what, std::move(peer_id), std::move(ep), std::move(detail), ms});
}

} // namespace ovl::torrent
