// Pieces of overlay_node shared by its source files (overlay_node*.cpp): the state of
// one outgoing connection attempt, and connection-table limits. Not a public header.
#pragma once

#include "overlay/overlay_node.hpp"

#include <chrono>
#include <optional>

namespace ovl::overlay {

// Finished connections stay a little, so final acknowledgements still find them.
inline constexpr auto connection_linger = std::chrono::seconds(5);
inline constexpr std::size_t max_connections = 1024;
// How long a socket that won a many-socket punch is kept for the stream that follows.
inline constexpr auto stream_claim_window = std::chrono::seconds(15);
// A host that never reports a TCP punch (one that cannot make them) fails it this long
// after its deadline.
inline constexpr auto tcp_report_grace = std::chrono::seconds(1);
// TCP punches running at once, and requests a host has not taken yet (older ones are
// dropped beyond this).
inline constexpr std::size_t max_tcp_punches = 4;
inline constexpr std::size_t max_tcp_requests = 64;
// The target learns of an introduction (punched or relayed) from a one-way notice; while
// nothing has come of it, the requester asks the introducer again this often, this many
// times (the target ignores repeats of a session it already knows).
inline constexpr auto reintroduce_after = std::chrono::seconds(1);
inline constexpr int reintroductions = 3;

struct overlay_node::connect_attempt {
    public_key target;
    dht::node_id target_id;
    std::string sid;
    std::vector<dht::contact> introducers;
    std::size_t next = 0;
    // The introducer (index into introducers) asked a second time after its answer timed out.
    std::optional<std::size_t> asked_again;
    // The target's lookup ran a second time after no DHT node answered the first.
    bool looked_up_again = false;
    timestamp started;
    connect_callback done;
    bool finished = false;
    std::string last_error = "no overlay introducer holds a registration for this peer";
    // The introducer that answered, and its token for us (a relay request reuses it).
    std::optional<dht::contact> introducer;
    std::string token;
    // When the introducer's answer arrived (the punch starts there).
    std::optional<timestamp> introduced_at;
    // introduce(): stop at the introducer's answer, and what to tell the target.
    bool introduce_only = false;
    std::string ctx;
    connect_options options;
};

} // namespace ovl::overlay
