// The plugin's native overlay endpoint, for peers libtorrent cannot reach over its own
// socket (a symmetric NAT on the path, or a punch that failed): an overlay_node on a UDP
// socket of its own (the overlay-node edge, cli/overlay_session), whose secure streams —
// over a punched UDP path or through a volunteer's relay — are spliced into the session
// over loopback TCP. The dialing side listens on 127.0.0.1 and the client's session is
// told to connect there; the accepting side connects to the session's own listen port.
// libtorrent then speaks BitTorrent over the overlay stream as over any TCP connection.
// Runs two threads: the UDP loop and the loopback sockets. Every public call is safe
// from any thread; events are collected and taken by the plugin on libtorrent's thread.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/log.hpp"
#include "overlay/overlay_config.hpp"
#include "overlay/identity.hpp"
#include "overlay/torrent/bridge_protocol.hpp"

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ovl::torrent {

struct bridge_event {
    enum class kind {
        // Dialing: the stream is open; libtorrent should connect to `loopback`.
        dial_ready,
        dial_failed,
        // Accepting: a peer's stream is connected to the session; libtorrent sees it
        // coming from `loopback`.
        accepted,
        refused,
        closed,
    };
    kind what = kind::dial_ready;
    // The other side's plugin peer id (as its preamble or our dial named it).
    overlay::public_key peer{};
    std::string rdv;
    bridge_path path = bridge_path::relayed;
    endpoint loopback;
    // The failure reason, or where the path goes (the relay, or the peer's endpoint).
    std::string detail;
    duration elapsed{};
};

class bridge_endpoint {
public:
    // Binds `bind` (port 0: any) at once and starts both threads; throws
    // std::system_error when it cannot bind.
    bridge_endpoint(overlay::overlay_config config, overlay::identity self, overlay::public_key plugin_peer,
                    const endpoint& bind, logger_ptr log);
    ~bridge_endpoint();
    bridge_endpoint(const bridge_endpoint&) = delete;
    bridge_endpoint& operator=(const bridge_endpoint&) = delete;

    const overlay::public_key& peer_id() const;
    // Torrents (rendezvous hashes) whose streams are accepted; others are refused.
    void set_torrents(std::set<std::string> rdvs);
    // Where accepted streams are connected: the session's TCP listen endpoint.
    void set_listen(const endpoint& ep);
    // Opens a stream to the peer's bridge and, once open, a loopback listener for it.
    void dial(const overlay::public_key& bridge_peer, const overlay::public_key& plugin_peer, const std::string& rdv);
    std::vector<bridge_event> take_events();
    // The native node's NAT verdict (e.g. "nat-symmetric"; "unknown" until it has one):
    // it runs the full discovery that the plugin's core cannot on libtorrent's socket.
    std::string nat_verdict() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace ovl::torrent
