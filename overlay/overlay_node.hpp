// An overlay peer as one sans-I/O core on one UDP socket: a DHT node, NAT discovery
// (observed addresses and dial-back), the introducer role when publicly reachable, the
// registration client when not, and connection setup: find the target's introducers
// in the DHT, get introduced, punch. Datagrams are routed by their first byte
// (overlay/wire_tags.hpp).
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/base/log.hpp"
#include "dht/node.hpp"
#include "overlay/contact_record.hpp"
#include "overlay/dial_back_service.hpp"
#include "overlay/identity.hpp"
#include "overlay/introducer_client.hpp"
#include "overlay/introducer_service.hpp"
#include "overlay/mapping_observer.hpp"
#include "overlay/nat_profile.hpp"
#include "overlay/overlay_config.hpp"
#include "overlay/punch_session.hpp"
#include "overlay/reachability_prober.hpp"
#include "overlay/sent_destinations.hpp"
#include "overlay/stream/secure_stream.hpp"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string_view>

namespace ovl::overlay {

enum class path_kind { lan, udp, tcp, relay };
const char* to_string(path_kind p);

using connection_id = std::uint64_t;

struct connect_result {
    bool ok = false;
    // The secure stream to the peer, open when ok.
    connection_id connection = 0;
    std::string error;
    path_kind path = path_kind::udp;
    endpoint remote;
    duration elapsed{};
    // From the introducer's answer to the open stream: the punch (or relay request) and
    // the secure handshake, without the lookup and the introduction before them.
    duration since_introduction{};
    std::optional<endpoint> introducer;
    std::string peer_nat;
    // introduce(): where the peer may be reached (its public endpoint first, then usable
    // LAN endpoints and predicted ports).
    std::vector<endpoint> candidates;
};
using connect_callback = std::function<void(timestamp now, const connect_result&)>;

struct connect_options {
    // Punch a TCP simultaneous-open path (both sides dial each other; the host makes the
    // connections, see poll_tcp_punch) instead of UDP. Over IPv6 when both ends have it.
    bool tcp = false;
};

struct incoming_peer {
    public_key peer;
    endpoint remote;
    path_kind path = path_kind::udp;
    duration elapsed{};
    endpoint introducer;
};
using incoming_handler = std::function<void(timestamp now, const incoming_peer&)>;

// An introduction handed to the host instead of punched (see overlay_config::
// assumed_reachability): someone wants to reach us at `candidates`, for `ctx`.
struct introduction {
    public_key peer{};
    std::vector<endpoint> candidates;
    std::string ctx;
    endpoint introducer;
    std::string peer_nat;
};
using introduction_handler = std::function<void(timestamp now, const introduction&)>;

// A TCP simultaneous open the host is asked to make (see overlay_node::poll_tcp_punch):
// connect to `remote` from the local port of the host's TCP connection to `via` (or,
// without `via`, from the port number of the node's own UDP socket), retrying until
// `deadline`, while the peer does the same toward us. The host reports the outcome with
// on_tcp_punch_result and then carries datagrams to and from `remote` over it.
struct tcp_punch_request {
    std::string sid;
    endpoint remote;
    std::optional<endpoint> via;
    timestamp deadline;
};

// What happened to a connection, for the owner to act on (poll_event).
struct connection_event {
    enum class kind { opened, closed, failed };
    kind what = kind::opened;
    connection_id id = 0;
    public_key peer{};
    endpoint remote;
    bool incoming = false;
    std::string reason;
};

class overlay_node final : public datagram_core {
public:
    overlay_node(overlay_config config, identity self, random_source rng, logger_ptr log, timestamp now);
    overlay_node(const overlay_node&) = delete;
    overlay_node& operator=(const overlay_node&) = delete;

    void on_datagram(timestamp now, const endpoint& from, bytes_view payload) override;
    std::optional<outgoing_datagram> poll_transmit() override;
    std::optional<timestamp> next_deadline() const override;
    void on_timeout(timestamp now) override;
    // Extra sockets carry many-socket punches and the streams that won them.
    void on_extra_datagram(timestamp now, std::uint16_t socket, const endpoint& from, bytes_view payload) override;
    std::optional<std::uint16_t> poll_released_socket() override;

    // Joins the DHT, then works out reachability and takes the matching role.
    void start(timestamp now);
    // Where both ends have a global IPv6 endpoint, its candidates are punched beside the
    // IPv4 ones, at once; IPv6 is preferred (RFC 8305): an IPv4 answer waits
    // overlay_config::punch_ipv6_grace for an IPv6 one before it carries the stream.
    void connect(timestamp now, const public_key& target, connect_callback done, connect_options options = {});
    void set_incoming_handler(incoming_handler handler) { incoming_ = std::move(handler); }
    // Only asks the target's introducers for an introduction and reports the candidate
    // endpoints; the target is told (with `ctx`, at most 32 opaque bytes) and the caller
    // makes the connection itself.
    void introduce(timestamp now, const public_key& target, std::string ctx, connect_callback done);
    void set_introduction_handler(introduction_handler handler) { introduction_ = std::move(handler); }

    // Secure streams: write returns the bytes accepted, read moves out what arrived.
    std::size_t write(connection_id id, bytes_view data);
    bytes read(connection_id id);
    void close(connection_id id);
    std::optional<connection_event> poll_event();

    // TCP punching is the host's (it owns the sockets): it takes requests here and reports
    // back; a request not reported by its deadline counts as failed. Used where UDP is
    // blocked on one side (overlay_config::udp_blocked, or a peer that says so).
    std::optional<tcp_punch_request> poll_tcp_punch();
    void on_tcp_punch_result(timestamp now, const std::string& sid, bool ok);
    const secure_stream* stream(connection_id id) const;

    // Looks up a peer's signed contact record in the DHT.
    void fetch_contact(timestamp now, const public_key& peer,
                       std::function<void(timestamp, std::optional<contact_record>)> done);
    std::uint64_t records_published() const { return records_published_; }

    nat_profile profile() const;
    // The global IPv6 endpoint peers can punch toward: what IPv6 DHT nodes last reported
    // seeing (a privacy address the kernel chose, followed as it rotates). nullopt without
    // an IPv6 socket, or until an IPv6 node has answered with a global address.
    std::optional<endpoint> ipv6_endpoint() const;
    // The DHT bootstrap lookup has finished, so others' lookups for our id can find us.
    bool in_dht() const { return in_dht_; }
    bool serving_as_introducer() const { return serving_; }
    const identity& self() const { return self_; }
    dht::node& dht() { return dht_; }
    const dht::node& dht() const { return dht_; }
    const introducer_client& registrations() const { return client_; }
    const introducer_service& introducer() const { return service_; }
    // The volunteer's caps changed at run time (overlay-node reloads them on SIGHUP).
    void set_limits(const introducer_limits& introducer, const relay_limits& relay) {
        service_.set_limits(introducer, relay);
    }
    const reachability_prober& prober() const { return prober_; }
    const reachability_prober& prober6() const { return prober6_; }

private:
    struct connect_attempt;
    struct punch_entry {
        std::unique_ptr<punch_session> session;
        std::function<void(timestamp, const punch_session&)> done;
        std::vector<endpoint> lan;
    };

    // Something to repeat while it is still needed: `fire` runs at most `times` times,
    // `every` apart, and returns false once it is no longer needed. The introducer tells
    // the target with a one-way notice (an answer would land the NATed target in its
    // routing table); on a lossy link the requester asks again instead.
    struct reminder {
        timestamp at;
        duration every;
        int times;
        std::function<bool(timestamp)> fire;
    };
    void remind(timestamp first, duration every, int times, std::function<bool(timestamp)> fire);
    void run_reminders(timestamp now);
    bencode::dict introduce_args(const connect_attempt& attempt, const std::string& token) const;

    void start_connect(timestamp now, std::shared_ptr<connect_attempt> attempt);
    void look_up_target(timestamp now, std::shared_ptr<connect_attempt> attempt);
    reachability reach() const;
    // The family of our first socket: what registrations, introductions and the NAT
    // verdict are about (IPv4 for a dual-stack peer; its IPv6 side is prober6_ and ep6).
    ip_family primary_family() const { return config_.dht.families.v4 ? ip_family::v4 : ip_family::v6; }
    void join_dht(timestamp now);
    void maybe_publish_record(timestamp now);
    void update_role(timestamp now);
    void tell_introducers_our_nat();
    std::vector<endpoint> predicted_mappings() const;
    std::size_t predictions_behind(const endpoint& introducer) const;
    std::vector<endpoint> usable_lan(const endpoint& peer_public, const std::vector<endpoint>& offered) const;
    dht::query_reply on_introduction(timestamp now, const endpoint& from, const krpc::message& q);
    void ask_next_introducer(timestamp now, std::shared_ptr<connect_attempt> attempt);
    void send_introduce(timestamp now, std::shared_ptr<connect_attempt> attempt, const std::string& token);
    // Many-socket probing for this pair, if one side randomises its ports and the other
    // maps endpoint-independently (see birthday_probe.hpp); both sides reach the same
    // answer from the two NAT verdicts.
    std::optional<birthday_probe::role> birthday_role(std::string_view peer_nat, bool peer_predictable) const;
    // Our NAT verdict as told to a peer we punch toward.
    nat_verdict punch_verdict() const;
    nat_verdict punch_verdict(const nat_profile& p) const;
    void start_punch(timestamp now, const std::string& sid, std::vector<endpoint> candidates, std::vector<endpoint> lan,
                     std::function<void(timestamp, const punch_session&)> done,
                     std::optional<birthday_probe::role> birthday = std::nullopt,
                     std::optional<endpoint> ipv6 = std::nullopt);
    // The peer's IPv6 endpoint if both of us can use IPv6, for punching beside IPv4.
    std::optional<endpoint> ipv6_pair(const bencode::dict& d) const;
    std::optional<std::uint16_t> allocate_sockets(std::uint16_t count);
    void start_tcp_punch(timestamp now, const std::string& sid, const endpoint& remote, std::optional<endpoint> via,
                         std::function<void(timestamp, bool)> done);
    void release_socket(std::uint16_t socket);
    void service_punches(timestamp now);
    void finish(timestamp now, const std::shared_ptr<connect_attempt>& attempt, connect_result result);
    void open_for(timestamp now, const std::shared_ptr<connect_attempt>& attempt, connect_result res,
                  std::uint16_t socket = 0);
    void send_raw(const endpoint& to, bytes payload, std::uint16_t socket = 0);
    void on_punch_datagram(timestamp now, const endpoint& from, bytes_view payload, std::uint16_t socket);
    void on_stream_datagram(timestamp now, const endpoint& from, bytes_view payload,
                            const std::optional<std::string>& relay_sid = std::nullopt, std::uint16_t socket = 0);
    void on_relay_frame(timestamp now, const endpoint& from, bytes_view frame);
    void request_relay(timestamp now, std::shared_ptr<connect_attempt> attempt, connect_result res);
    connection_id open_stream(timestamp now, const public_key& peer, const endpoint& remote,
                              const std::optional<std::string>& relay_sid = std::nullopt, std::uint16_t socket = 0);
    void service_streams(timestamp now);

    struct connection {
        std::unique_ptr<secure_stream> stream;
        endpoint remote;
        // Relayed: `remote` is the relay, and packets travel inside relay frames.
        std::optional<std::string> relay_sid;
        // The local socket the path runs over (an extra one after many-socket probing).
        std::uint16_t socket = 0;
        bool incoming = false;
        bool opened = false;
        bool finished = false;
        timestamp finished_at{};
        std::function<void(timestamp, const secure_stream&)> on_open;
    };

    overlay_config config_;
    identity self_;
    logger_ptr log_;
    dht::node dht_;
    mapping_observer mapping_;
    // IPv6 has no mapping to classify: only the last address IPv6 nodes saw us at.
    std::optional<endpoint> observed6_;
    reachability_prober prober_;
    reachability_prober prober6_;
    introducer_service service_;
    dial_back_service dial_back_;
    introducer_client client_;
    bool serving_ = false;
    bool started_ = false;
    std::deque<outgoing_datagram> raw_out_;
    sent_destinations sent_to_;
    bool joined_ = false;
    bool in_dht_ = false;
    std::vector<endpoint> published_introducers_;
    timestamp next_record_{};
    std::uint64_t records_published_ = 0;
    // UDP blocked (or every bootstrap node down): we sent, nobody ever answered.
    bool udp_answered_ = false;
    bool bootstrap_silent_ = false;
    std::map<std::string, punch_entry> punches_;
    std::vector<reminder> reminders_;
    // Extra sockets (outgoing_datagram::socket) held by punches and connections; a socket
    // that won a punch waits here for its stream until the deadline, then is released.
    std::set<std::uint16_t> sockets_in_use_;
    std::uint16_t next_socket_ = 1;
    std::map<std::uint16_t, timestamp> sockets_awaiting_stream_;
    std::deque<std::uint16_t> released_sockets_;
    struct tcp_punch {
        timestamp deadline;
        std::function<void(timestamp, bool)> done;
    };
    std::map<std::string, tcp_punch> tcp_punches_;
    std::deque<tcp_punch_request> tcp_requests_;
    std::map<connection_id, connection> connections_;
    // Peers we were introduced to, by the endpoint the punch settled on: their stream
    // must prove this key.
    std::map<endpoint, public_key> expected_peers_;
    std::deque<connection_event> events_;
    // Relay sessions we are an end of: session id -> the introducer carrying it.
    std::map<std::string, endpoint> relay_paths_;
    std::map<std::string, public_key> relay_peers_;
    timestamp now_{};
    incoming_handler incoming_;
    introduction_handler introduction_;
};

} // namespace ovl::overlay
