// The state behind overlay_plugin, touched only on libtorrent's network thread (the
// path table excepted, which clients read from theirs). Not a public header.
#pragma once

#include "overlay/overlay_node.hpp"
#include "overlay/torrent/bridge_endpoint.hpp"
#include "overlay/torrent/krpc_bridge.hpp"
#include "overlay/torrent/plugin.hpp"
#include "overlay/torrent/rendezvous.hpp"

#include <libtorrent/torrent_handle.hpp>

#include <map>
#include <optional>

namespace ovl::torrent {

struct overlay_plugin::impl {
    impl(plugin_settings s, overlay::identity id);

    void attach(const lt::session_handle& s);
    void tick(timestamp now);
    void stop();
    bool on_request(timestamp now, lt::string_view query, const lt::udp::endpoint& source, const lt::bdecode_node& message,
                    lt::entry& response);
    void on_alert(timestamp now, const lt::alert& a);

    // From the torrent watchers.
    // Returns the torrent's rendezvous hash.
    std::string add_torrent(const lt::torrent_handle& h);
    void remove_torrent(const std::string& rdv);
    void on_handshake(timestamp now, const lt::tcp::endpoint& remote, bool utp);
    // A punch to this address is under way.
    bool punching(const ip_address& a) const;

    std::vector<peer_path> paths() const;

    struct torrent_entry {
        lt::torrent_handle handle;
        rendezvous rdv;
        bool is_private = false;
        timestamp next_publish{};
        timestamp next_lookup{};
        // BEP 44 sequence number of our last slot write (a republish within the same
        // second still needs a higher one).
        std::int64_t seq = 0;
    };
    struct punch {
        std::string rdv;
        overlay::public_key peer{};
        std::vector<endpoint> candidates;
        std::string peer_nat;
        // The peer's native endpoint, from its rendezvous slot (the requester only).
        std::optional<overlay::public_key> bridge;
        timestamp started{};
        timestamp next{};
        int round = 0;
        bool initiated = false;
    };

    void start(timestamp now);
    void publish(timestamp now, torrent_entry& t);
    void look_up(timestamp now, torrent_entry& t);
    void request_introduction(timestamp now, const std::string& rdv, const slot_entry& peer);
    void on_introduction(timestamp now, const overlay::introduction& in);
    void start_punch(timestamp now, punch p);
    void service_punches(timestamp now);
    bool symmetric_path(const punch& p) const;
    // Bridged paths (bridge_endpoint): dialing a peer's native endpoint, and what the
    // bridge reports back.
    void start_bridge(timestamp now, const punch& p, const std::string& why);
    void service_bridge(timestamp now);
    void start_native(const overlay::overlay_config& core);
    void update_bridge_torrents();
    void set_path(const std::string& peer_id, const endpoint& ep, path_state state, double ms, std::string reason,
                  bool initiated, std::string via = {});
    void emit(plugin_event::kind what, std::string peer_id, std::string ep, std::string detail, double ms = 0);
    bool takes_part(const torrent_entry& t) const { return !t.is_private || settings.private_rendezvous; }

    plugin_settings settings;
    logger_ptr log;
    overlay::identity self;
    std::string self_id;
    std::optional<lt::session_handle> session;
    std::optional<krpc_bridge> bridge;
    std::unique_ptr<overlay::overlay_node> node;
    bool announced_registration = false;
    bool stopped = false;
    timestamp now_{};
    std::map<std::string, torrent_entry> torrents;
    std::vector<punch> punches;
    // When a (torrent, peer) pair may be introduced again.
    std::map<std::pair<std::string, overlay::public_key>, timestamp> next_try;

    std::unique_ptr<bridge_endpoint> native;
    // The session's TCP listen address, when bound to one interface (else loopback).
    std::optional<ip_address> listen_address;
    struct bridged {
        std::string peer_id;
        bridge_path path = bridge_path::relayed;
        std::string via;
        timestamp started{};
        bool initiated = false;
    };
    // Dials under way, by peer id: when each began (the introduction), for the timing.
    std::map<std::string, timestamp> bridge_dials;
    // The bridge's verdict as last published in the rendezvous slots.
    std::string published_nat;
    // Bridged connections by the loopback endpoint libtorrent sees for them.
    std::map<endpoint, bridged> loopbacks;

    mutable std::mutex paths_mutex;
    std::vector<peer_path> path_table;
};

} // namespace ovl::torrent
