// punch_session on its own: paced probes to every candidate, settling on the first
// reply, failing at the timeout, and the probe/ack frames.
#include "overlay/punch_session.hpp"
#include "overlay/wire_tags.hpp"

#include <algorithm>

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

namespace {

const std::string sid = "ABCDEFGH";
const endpoint cand_public{ip_address::v4(0xCB007105), 40000};  // 203.0.113.5
const endpoint cand_lan1{ip_address::v4(0xC0A80002), 6881};     // 192.168.0.2
const endpoint cand_lan2{ip_address::v4(0x0A000002), 6881};     // 10.0.0.2

std::vector<outgoing_datagram> drain(punch_session& s) {
    std::vector<outgoing_datagram> out;
    while (auto d = s.poll_transmit()) out.push_back(std::move(*d));
    return out;
}

// Every candidate exactly once, each datagram a probe for `sid`.
void check_round(const std::vector<outgoing_datagram>& round) {
    REQUIRE(round.size() == 3);
    std::vector<endpoint> to;
    for (const auto& d : round) {
        to.push_back(d.to);
        CHECK(d.payload == punch_session::probe(sid));
        CHECK_FALSE(d.from_secondary_port);
    }
    std::sort(to.begin(), to.end());
    std::vector<endpoint> want{cand_public, cand_lan1, cand_lan2};
    std::sort(want.begin(), want.end());
    CHECK(to == want);
}

} // namespace

TEST_CASE("punch_session: probes every candidate at once and each interval", "[punch_session]") {
    const timestamp t0{1000s};
    punch_session s(sid, {cand_public, cand_lan1, cand_lan2}, t0, 200ms, 5s);
    CHECK(s.current() == punch_session::state::punching);
    check_round(drain(s));
    CHECK(s.probes_sent() == 3);
    REQUIRE(s.next_deadline());
    CHECK(*s.next_deadline() == t0 + 200ms);

    // Too early: nothing new.
    s.on_timeout(t0 + 100ms);
    CHECK(drain(s).empty());
    CHECK(s.probes_sent() == 3);

    s.on_timeout(t0 + 200ms);
    check_round(drain(s));
    CHECK(s.probes_sent() == 6);
    CHECK(*s.next_deadline() == t0 + 400ms);

    s.on_timeout(t0 + 400ms);
    check_round(drain(s));
    CHECK(s.probes_sent() == 9);
    CHECK(s.current() == punch_session::state::punching);
    CHECK_FALSE(s.path());
}

TEST_CASE("punch_session: the first reply settles the path and stops probing", "[punch_session]") {
    const timestamp t0{1000s};
    punch_session s(sid, {cand_public, cand_lan1, cand_lan2}, t0, 200ms, 5s);
    drain(s);
    s.on_timeout(t0 + 200ms);
    drain(s);

    // The reply may come from an endpoint that was not a candidate (a remapped port).
    const endpoint replied{ip_address::v4(0xCB007105), 40007};
    s.on_reply(t0 + 300ms, replied);
    CHECK(s.current() == punch_session::state::succeeded);
    REQUIRE(s.path());
    CHECK(*s.path() == replied);
    CHECK(s.elapsed() == 300ms);

    // One ack back on the path, so the other side settles too.
    auto out = drain(s);
    REQUIRE(out.size() == 1);
    CHECK(out[0].to == replied);
    CHECK(out[0].payload == punch_session::ack(sid));

    CHECK_FALSE(s.next_deadline());
    const int sent = s.probes_sent();
    s.on_timeout(t0 + 400ms);
    s.on_timeout(t0 + 10s);
    CHECK(drain(s).empty());
    CHECK(s.probes_sent() == sent);
    CHECK(s.current() == punch_session::state::succeeded);

    // A later reply from elsewhere changes nothing.
    s.on_reply(t0 + 500ms, cand_lan1);
    CHECK(*s.path() == replied);
    CHECK(s.elapsed() == 300ms);
    CHECK(drain(s).empty());
}

TEST_CASE("punch_session: fails at its timeout", "[punch_session]") {
    const timestamp t0{1000s};
    punch_session s(sid, {cand_public}, t0, 400ms, 1s);
    drain(s);
    timestamp t = t0;
    while (auto d = s.next_deadline()) {
        REQUIRE(*d > t);
        REQUIRE(*d <= t0 + 1s);
        t = *d;
        s.on_timeout(t);
        drain(s);
    }
    CHECK(t == t0 + 1s);
    CHECK(s.current() == punch_session::state::failed);
    CHECK_FALSE(s.path());
    CHECK(s.elapsed() == 1s);
    // Rounds at 0, 400 and 800 ms.
    CHECK(s.probes_sent() == 3);

    // A reply after failure is too late.
    s.on_reply(t0 + 2s, cand_public);
    CHECK(s.current() == punch_session::state::failed);
    CHECK_FALSE(s.path());
    CHECK(drain(s).empty());
}

TEST_CASE("punch_session: probe and ack frames round-trip through session_of", "[punch_session]") {
    const auto p = punch_session::probe(sid);
    const auto a = punch_session::ack(sid);
    CHECK(p != a);
    CHECK(p[0] == tag::punch_probe);
    CHECK(a[0] == tag::punch_ack);
    REQUIRE(punch_session::session_of(p));
    CHECK(*punch_session::session_of(p) == sid);
    REQUIRE(punch_session::session_of(a));
    CHECK(*punch_session::session_of(a) == sid);

    CHECK_FALSE(punch_session::session_of(bytes{}));
    // Truncated, overlong, and wrong tag.
    CHECK_FALSE(punch_session::session_of(bytes(p.begin(), p.end() - 1)));
    auto longer = p;
    longer.push_back('X');
    CHECK_FALSE(punch_session::session_of(longer));
    auto wrong = p;
    wrong[0] = tag::dial_back;
    CHECK_FALSE(punch_session::session_of(wrong));
    wrong[0] = tag::relay_first;
    CHECK_FALSE(punch_session::session_of(wrong));
}

TEST_CASE("punch_session: the opening round has a short TTL, full probes follow after the lead",
          "[punch_session]") {
    const timestamp t0{1000s};
    punch_session s(sid, {cand_public, cand_lan1, cand_lan2}, t0, 100ms, 5s, 5, 50ms);
    const auto opening = drain(s);
    check_round(opening);
    for (const auto& d : opening) CHECK(d.ttl == 5);
    REQUIRE(s.next_deadline());
    CHECK(*s.next_deadline() == t0 + 50ms);
    s.on_timeout(t0 + 50ms);
    const auto full = drain(s);
    check_round(full);
    for (const auto& d : full) CHECK(d.ttl == 0);
    CHECK(*s.next_deadline() == t0 + 150ms);
    // Without an opening TTL the first round is a full one and the next comes an interval later.
    punch_session plain(sid, {cand_public, cand_lan1, cand_lan2}, t0, 100ms, 5s);
    for (const auto& d : drain(plain)) CHECK(d.ttl == 0);
    CHECK(*plain.next_deadline() == t0 + 100ms);
}

TEST_CASE("punch_session: an IPv4 answer waits a grace period for IPv6, which is preferred", "[punch_session][ipv6]") {
    const timestamp t0{1000s};
    const endpoint cand6 = *endpoint::parse("[2001:db8:1::5]:40000");
    SECTION("IPv6 answers within the grace: IPv6 wins") {
        punch_session s(sid, {cand6, cand_public}, t0, 100ms, 5s);
        s.prefer_ipv6(100ms);
        drain(s);
        s.on_reply(t0 + 10ms, cand_public);
        CHECK(s.current() == punch_session::state::punching);
        REQUIRE(s.next_deadline());
        CHECK(*s.next_deadline() <= t0 + 110ms);
        s.on_reply(t0 + 40ms, cand6);
        CHECK(s.current() == punch_session::state::succeeded);
        CHECK(s.path() == cand6);
    }
    SECTION("IPv6 stays silent: IPv4 wins when the grace ends") {
        punch_session s(sid, {cand6, cand_public}, t0, 100ms, 5s);
        s.prefer_ipv6(100ms);
        drain(s);
        s.on_reply(t0 + 10ms, cand_public);
        s.on_timeout(t0 + 109ms);
        CHECK(s.current() == punch_session::state::punching);
        s.on_timeout(t0 + 110ms);
        CHECK(s.current() == punch_session::state::succeeded);
        CHECK(s.path() == cand_public);
        CHECK(s.elapsed() == 110ms);
    }
    SECTION("without the preference the first answer wins at once") {
        punch_session s(sid, {cand6, cand_public}, t0, 100ms, 5s);
        drain(s);
        s.on_reply(t0 + 10ms, cand_public);
        CHECK(s.current() == punch_session::state::succeeded);
        CHECK(s.path() == cand_public);
    }
}
