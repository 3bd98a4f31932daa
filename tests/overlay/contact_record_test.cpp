// contact_record on its own: encode/decode round trip and refusal of malformed values.
#include "overlay/contact_record.hpp"

#include "dht/krpc/compact.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

namespace {

endpoint v4(std::uint32_t ip, std::uint16_t port) { return {ip_address::v4(ip), port}; }

contact_record sample() {
    contact_record r;
    r.observed = {v4(0xCB007105, 40000)};
    r.lan = {v4(0xC0A80002, 6881), v4(0x0A000002, 6881)};
    r.nat = "nat_cone";
    r.introducers = {v4(0xC6336401, 6881), v4(0xC6336402, 6882), *endpoint::parse("[2001:db8::1]:6883")};
    r.transports = {"utp", "stream"};
    r.ttl = 15min;
    return r;
}

bencode::dict encoded_dict(const contact_record& r) {
    auto v = r.encode();
    REQUIRE(v.as_dict());
    return *v.as_dict();
}

bencode::list compact_list(std::size_t n) {
    bencode::list l;
    for (std::size_t i = 0; i < n; ++i)
        l.emplace_back(krpc::compact_endpoint(v4(0xC6336400 + static_cast<std::uint32_t>(i), 6881)));
    return l;
}

} // namespace

TEST_CASE("contact_record: encode/decode round trip", "[contact_record]") {
    const auto r = sample();
    auto back = contact_record::decode(r.encode());
    REQUIRE(back);
    CHECK(back->observed == r.observed);
    CHECK(back->lan == r.lan);
    CHECK(back->nat == r.nat);
    CHECK(back->introducers == r.introducers);
    CHECK(back->transports == r.transports);
    CHECK(back->ttl == r.ttl);
}

TEST_CASE("contact_record: an empty record round-trips", "[contact_record]") {
    contact_record r;
    auto back = contact_record::decode(r.encode());
    REQUIRE(back);
    CHECK(back->observed.empty());
    CHECK(back->introducers.empty());
    CHECK(back->transports.empty());
    CHECK(back->nat.empty());
    CHECK(back->ttl == 30min);
}

TEST_CASE("contact_record: encode caps sizes so its output always decodes", "[contact_record]") {
    contact_record r = sample();
    r.introducers.clear();
    for (std::uint32_t i = 0; i < 20; ++i) r.introducers.push_back(v4(0xC6336400 + i, 6881));
    r.transports = {"a", "b", "c", "d", "e", "f"};
    r.transports.push_back(std::string(40, 'x'));
    r.nat = std::string(100, 'n');
    auto back = contact_record::decode(r.encode());
    REQUIRE(back);
    CHECK(back->introducers.size() == 8);
    CHECK(back->introducers.front() == r.introducers.front());
    CHECK(back->transports == std::vector<std::string>{"a", "b", "c", "d"});
    CHECK(back->nat == std::string(32, 'n'));
}

TEST_CASE("contact_record: decode refuses malformed values", "[contact_record]") {
    const auto good = encoded_dict(sample());
    REQUIRE(contact_record::decode(bencode::value(good)));

    auto refused = [&](auto&& mutate) {
        auto d = good;
        mutate(d);
        return !contact_record::decode(bencode::value(std::move(d))).has_value();
    };

    SECTION("not a dictionary") {
        CHECK_FALSE(contact_record::decode(bencode::value(42)));
        CHECK_FALSE(contact_record::decode(bencode::value("record")));
        CHECK_FALSE(contact_record::decode(bencode::value(bencode::list{})));
    }
    SECTION("too many endpoints") {
        CHECK(refused([](bencode::dict& d) { d["o"] = compact_list(9); }));
        CHECK(refused([](bencode::dict& d) { d["l"] = compact_list(9); }));
        CHECK(refused([](bencode::dict& d) { d["i"] = compact_list(9); }));
        CHECK_FALSE(refused([](bencode::dict& d) { d["i"] = compact_list(8); }));
    }
    SECTION("malformed endpoints") {
        CHECK(refused([](bencode::dict& d) { d["o"] = bencode::list{bencode::value(6881)}; }));
        CHECK(refused([](bencode::dict& d) { d["l"] = bencode::list{bencode::value("12345")}; }));
        CHECK(refused([](bencode::dict& d) { d["i"] = bencode::list{bencode::value(std::string(7, 'x'))}; }));
    }
    SECTION("bad ttl") {
        CHECK(refused([](bencode::dict& d) { d.erase("ttl"); }));
        CHECK(refused([](bencode::dict& d) { d["ttl"] = 0; }));
        CHECK(refused([](bencode::dict& d) { d["ttl"] = -5; }));
        CHECK(refused([](bencode::dict& d) { d["ttl"] = 86401; }));
        CHECK(refused([](bencode::dict& d) { d["ttl"] = "900"; }));
        CHECK_FALSE(refused([](bencode::dict& d) { d["ttl"] = 86400; }));
        CHECK_FALSE(refused([](bencode::dict& d) { d["ttl"] = 1; }));
    }
    SECTION("bad nat class") {
        CHECK(refused([](bencode::dict& d) { d.erase("n"); }));
        CHECK(refused([](bencode::dict& d) { d["n"] = 3; }));
        CHECK(refused([](bencode::dict& d) { d["n"] = std::string(33, 'n'); }));
        CHECK_FALSE(refused([](bencode::dict& d) { d["n"] = std::string(32, 'n'); }));
    }
    SECTION("bad transports") {
        CHECK(refused([](bencode::dict& d) { d["t"] = bencode::list{"a", "b", "c", "d", "e"}; }));
        CHECK(refused([](bencode::dict& d) { d["t"] = bencode::list{bencode::value(1)}; }));
        CHECK(refused([](bencode::dict& d) { d["t"] = bencode::list{std::string(17, 't')}; }));
        CHECK_FALSE(refused([](bencode::dict& d) { d["t"] = bencode::list{std::string(16, 't')}; }));
    }
}

// A key present with the wrong type is malformed, not absent.
TEST_CASE("contact_record: list fields of the wrong type are refused", "[contact_record]") {
    const auto good = encoded_dict(sample());
    for (const char* key : {"o", "l", "i", "t"}) {
        INFO("key " << key);
        auto d = good;
        d[key] = "not a list";
        CHECK_FALSE(contact_record::decode(bencode::value(std::move(d))));
    }
}

TEST_CASE("contact_record: IPv6 endpoints must be global unicast, LAN ones private", "[contact_record][ipv6]") {
    auto with = [](const char* key, const char* ep) {
        auto d = encoded_dict(sample());
        d[key] = bencode::list{krpc::compact_endpoint(*endpoint::parse(ep))};
        return bencode::value(std::move(d));
    };
    std::string why;
    SECTION("a global IPv6 observed endpoint round-trips") {
        auto r = contact_record::decode(with("o", "[2001:db8:5::7]:6881"), &why);
        REQUIRE(r);
        CHECK(r->observed == std::vector<endpoint>{*endpoint::parse("[2001:db8:5::7]:6881")});
    }
    SECTION("observed and introducer endpoints that are not global are refused, naming the endpoint") {
        for (const char* key : {"o", "i"}) {
            for (const char* bad : {"[fe80::1]:6881", "[fd00::1]:6881", "[::ffff:198.51.100.7]:6881", "[::1]:6881",
                                    "[ff02::1]:6881", "[2001:db8::1]:0", "10.0.0.7:6881", "127.0.0.1:6881"}) {
                INFO(key << " " << bad);
                CHECK_FALSE(contact_record::decode(with(key, bad), &why));
                CHECK(why.find(endpoint::parse(bad)->to_string()) != std::string::npos);
            }
        }
    }
    SECTION("LAN endpoints must be private") {
        CHECK(contact_record::decode(with("l", "[fd00::2]:6881"), &why));
        CHECK(contact_record::decode(with("l", "100.64.1.2:6881"), &why));
        for (const char* bad : {"198.51.100.7:6881", "[2001:db8::2]:6881", "[fe80::2]:6881", "[::ffff:10.0.0.2]:6881"}) {
            INFO(bad);
            CHECK_FALSE(contact_record::decode(with("l", bad), &why));
            CHECK(why.find("not a private LAN endpoint") != std::string::npos);
        }
    }
}
