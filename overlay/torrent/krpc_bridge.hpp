// The libtorrent transport adapter: runs a sans-I/O overlay core on the session's own
// DHT socket, so the NAT mapping an introducer observes is the very one uTP uses.
// libtorrent sends no raw datagrams for plugins, so the bridge speaks KRPC only:
//  - queries the core sends go out through session_handle::dht_direct_request (which
//    substitutes its own transaction id and node id); the answer comes back as a
//    dht_direct_response_alert and is handed to the core under the original id;
//  - overlay queries that arrive (plugin::on_dht_request) go to the core, and the reply
//    the core makes at once becomes libtorrent's response;
//  - anything else the core would send (punch probes, stream packets) cannot travel
//    here and is dropped and counted: the plugin punches with uTP instead.
// libtorrent reports KRPC errors like timeouts (an empty response); the core gets a
// server error then, so it moves on at once instead of waiting for its own timeout.
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/base/log.hpp"

#include <libtorrent/alert_types.hpp>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/session_handle.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace ovl::torrent {

class krpc_bridge {
public:
    krpc_bridge(lt::session_handle session, logger_ptr log);

    // Sends everything the core has queued.
    void flush(datagram_core& core, timestamp now);
    // An incoming query libtorrent offers us; true when it was ours and `response` is set.
    bool on_request(datagram_core& core, timestamp now, const lt::udp::endpoint& from, const lt::bdecode_node& message,
                    lt::entry& response);
    // An alert libtorrent posted; true when it answered one of our queries.
    bool on_alert(datagram_core& core, timestamp now, const lt::alert& a);
    // Sends a DHT ping whose answer nobody waits for (opens our NAT toward `to`).
    void ping(const endpoint& to);

    std::uint64_t queries_sent() const { return queries_sent_; }
    std::uint64_t dropped_raw() const { return dropped_raw_; }

private:
    struct pending {
        endpoint to;
        std::string transaction_id;
        timestamp sent;
    };
    // client_data_t type tags: numbered queries, and pings nobody waits for.
    struct cookie_tag;
    struct ping_tag;
    static ping_tag ping_marker;

    void send(timestamp now, const outgoing_datagram& d);
    void forget_stale(timestamp now);

    lt::session_handle session_;
    logger_ptr log_;
    std::map<std::uintptr_t, pending> pending_;
    std::uintptr_t next_cookie_ = 1;
    std::uint64_t queries_sent_ = 0;
    std::uint64_t dropped_raw_ = 0;
};

} // namespace ovl::torrent
