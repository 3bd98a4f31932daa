// The overlay as a libtorrent session plugin: firewalled seeders and leechers find and
// reach each other through the DHT, with no tracker and no port forwarding.
//
//     ovl::torrent::plugin_settings s;
//     s.bootstrap = {"203.0.113.1:6881"};      // overlay nodes (overlay-node)
//     auto overlay = std::make_shared<ovl::torrent::overlay_plugin>(s);
//     session.add_extension(overlay);
//
// The session must run its DHT (enable_dht, the default) and its alerts must be popped
// as usual. What the plugin does, all on the session's own UDP socket: it registers with
// overlay introducers, publishes its peer id for each torrent under a rendezvous derived
// from the info-hash, looks up the other peers of each torrent it is downloading, asks
// their introducers to introduce it, and then both sides send DHT pings and uTP SYNs to
// each other at once, so that libtorrent's own connection gets through both NATs.
#pragma once

#include <libtorrent/extensions.hpp>
#include <libtorrent/socket.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace ovl::torrent {

// relayed and direct_udp are bridged paths: libtorrent talks to a loopback socket that
// the plugin splices into an overlay stream (through a volunteer's relay, or punched from
// the plugin's own UDP socket).
enum class path_state { punching, direct_utp, direct_tcp, bridging, relayed, direct_udp, failed };
const char* to_string(path_state s);

// What a client can show per overlay peer.
struct peer_path {
    std::string peer_id;
    lt::tcp::endpoint endpoint;
    path_state state = path_state::punching;
    // From the introduction to the BitTorrent handshake.
    double connect_ms = 0;
    // Why the punch failed (state failed).
    std::string reason;
    // We asked for the introduction (else the peer did).
    bool initiated = false;
    // Bridged paths: where the overlay stream goes (the relay, or the peer's endpoint);
    // `endpoint` is then the loopback address libtorrent sees.
    std::string via;
};

struct plugin_event {
    enum class kind { registered, introduction_requested, introduction_received, punch_succeeded, punch_failed };
    kind what = kind::registered;
    std::string peer_id;
    std::string endpoint;
    std::string detail;
    double ms = 0;
};
const char* to_string(plugin_event::kind k);

struct plugin_settings {
    // Overlay nodes to join through, "IP:PORT" (e.g. volunteers' overlay-node).
    std::vector<std::string> bootstrap;
    // Identity (64 hex digits of ed25519 seed), created if missing; empty: new each session.
    std::string key_file;
    // The session is publicly reachable (no NAT, or a forwarded port): serve as an
    // introducer instead of registering with one. The plugin cannot verify this itself.
    bool introducer = false;
    // Private torrents (no DHT, no PEX) take part only when this is set; the rendezvous
    // never reveals the info-hash either way.
    bool private_rendezvous = false;
    // How often a downloading torrent looks for firewalled peers.
    std::chrono::seconds lookup_interval{30};
    // How long a punch may take to end in a BitTorrent handshake.
    std::chrono::seconds punch_timeout{15};
    // Reach peers libtorrent cannot (a symmetric NAT on the path, a failed punch) through
    // a native overlay stream, relayed or punched from a UDP socket of the plugin's own,
    // spliced into the session over loopback TCP. Costs a second UDP socket and two
    // threads (docs/PLUGIN.md).
    bool bridge = true;
    // Log sink (default: none).
    std::shared_ptr<spdlog::logger> log;
    // Called on libtorrent's network thread: keep it short, never block.
    std::function<void(const plugin_event&)> on_event;
};

class overlay_plugin final : public lt::plugin {
public:
    explicit overlay_plugin(plugin_settings settings);
    ~overlay_plugin() override;

    // Hex of the ed25519 public key.
    std::string peer_id() const;
    // Safe from any thread.
    std::vector<peer_path> paths() const;

    feature_flags_t implemented_features() override;
    std::shared_ptr<lt::torrent_plugin> new_torrent(const lt::torrent_handle& h, lt::client_data_t) override;
    void added(const lt::session_handle& s) override;
    void abort() override;
    bool on_dht_request(lt::string_view query, const lt::udp::endpoint& source, const lt::bdecode_node& message,
                        lt::entry& response) override;
    void on_alert(const lt::alert* a) override;
    void on_tick() override;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace ovl::torrent
