#include "overlay/stream/frames.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::overlay::stream;
using namespace std::chrono_literals;

TEST_CASE("frames survive an encode/decode round trip", "[codec]") {
    const bytes payload{9, 8, 7};
    ack_frame ack;
    ack.ranges = {{90, 100}, {50, 60}, {0, 10}};
    ack.ack_delay = 3ms;
    ack.max_data = 123456;
    bytes wire;
    encode(wire, ping_frame{});
    encode(wire, ack);
    encode(wire, stream_frame{77, payload, true});
    encode(wire, abort_frame{"bye"});
    const auto frames = decode_frames(wire);
    REQUIRE(frames.has_value());
    REQUIRE(frames->size() == 4);
    CHECK(std::holds_alternative<ping_frame>((*frames)[0]));
    const auto& a = std::get<ack_frame>((*frames)[1]);
    REQUIRE(a.ranges.size() == 3);
    CHECK(a.ranges[0].low == 90);
    CHECK(a.ranges[0].high == 100);
    CHECK(a.ranges[1].low == 50);
    CHECK(a.ranges[2].high == 10);
    CHECK(a.ranges[2].low == 0);
    CHECK(a.ack_delay == 3ms);
    CHECK(a.max_data == 123456);
    const auto& s = std::get<stream_frame>((*frames)[2]);
    CHECK(s.offset == 77);
    CHECK(s.fin);
    CHECK(bytes(s.data.begin(), s.data.end()) == payload);
    CHECK(std::get<abort_frame>((*frames)[3]).reason == "bye");
}

TEST_CASE("malformed frames are refused whole", "[codec]") {
    ack_frame ack;
    ack.ranges = {{5, 10}};
    bytes wire;
    encode(wire, ack);
    for (std::size_t len = 1; len < wire.size(); ++len) CHECK_FALSE(decode_frames(bytes_view(wire).first(len)).has_value());
    CHECK_FALSE(decode_frames(bytes{0x7f}).has_value());
    // A range reaching below packet number 0.
    auto bad = wire;
    bad[1 + 8 + 4 + 8 + 1 + 3] = 12;
    CHECK_FALSE(decode_frames(bad).has_value());
    // A stream frame claiming more bytes than it carries.
    bytes s;
    encode(s, stream_frame{0, bytes{1, 2, 3}, false});
    s.pop_back();
    CHECK_FALSE(decode_frames(s).has_value());
    CHECK(decode_frames(bytes{}).has_value());
}
