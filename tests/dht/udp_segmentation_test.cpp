// Segmentation offload (dht/io/udp_segmentation.hpp): which datagrams may share one send, and,
// on real loopback sockets, that a run crosses the kernel as one packet and arrives at the
// receiving core as the datagrams it was made of, in order and intact.
#include "dht/io/udp_driver.hpp"
#include "dht/io/udp_segmentation.hpp"
#include "loopback_socket.hpp"
#include "queue_core.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <chrono>
#include <deque>
#include <vector>

using namespace ovl;

namespace {

const endpoint peer{ip_address::v4(0x7F000001), 4000};
const endpoint other_peer{ip_address::v4(0x7F000001), 4001};

outgoing_datagram sized(std::size_t size, const endpoint& to = peer, std::uint8_t fill = 0) {
    return outgoing_datagram{to, bytes(size, fill)};
}

std::size_t run_of(const std::vector<outgoing_datagram>& batch) { return io::segment_run(batch); }

using test::queue_core;

// 41 datagrams to `to`: 40 of 1,000 bytes, then one of 500, each filled with its index.
std::deque<outgoing_datagram> bulk(const endpoint& to) {
    std::deque<outgoing_datagram> out;
    for (int i = 0; i < 41; ++i) out.push_back(sized(i == 40 ? 500 : 1000, to, static_cast<std::uint8_t>(i)));
    return out;
}

} // namespace

TEST_CASE("segment_run: one destination, one size, a shorter last datagram", "[udp_segmentation]") {
    CHECK(run_of({}) == 0);
    CHECK(run_of({sized(1200)}) == 1);
    CHECK(run_of({sized(1200), sized(1200), sized(1200)}) == 3);
    CHECK(run_of({sized(1200), sized(1200), sized(700), sized(1200)}) == 3);   // ends after the short one
    CHECK(run_of({sized(1200), sized(1300), sized(1200)}) == 1);               // a longer one cannot follow
    CHECK(run_of({sized(1200), sized(1200), sized(1200, other_peer)}) == 2);
    CHECK(run_of({sized(0), sized(0)}) == 1);
    CHECK(run_of({sized(60), sized(60), sized(60), sized(44)}) == 4);   // a stream's acknowledgements
}

TEST_CASE("segment_run: what must leave in a send of its own", "[udp_segmentation]") {
    auto ttl = sized(1200);
    ttl.ttl = 5;
    CHECK(run_of({sized(1200), ttl, sized(1200)}) == 1);
    CHECK(run_of({ttl, sized(1200)}) == 1);
    auto extra = sized(1200);
    extra.socket = 3;
    CHECK(run_of({sized(1200), extra}) == 1);
    CHECK(run_of({extra, extra, sized(1200)}) == 2);   // an extra socket's runs are its own
    auto secondary = sized(1200);
    secondary.from_secondary_port = true;
    CHECK(run_of({sized(1200), secondary}) == 1);
}

TEST_CASE("segment_run: within the kernel's segment and size limits", "[udp_segmentation]") {
    CHECK(run_of(std::vector<outgoing_datagram>(100, sized(600))) == io::max_segments);
    const auto runs = run_of(std::vector<outgoing_datagram>(60, sized(1200)));
    CHECK(runs == io::max_segmented_bytes / 1200);
    CHECK(runs * 1200 <= io::max_segmented_bytes);
}

TEST_CASE("udp_driver: a run crosses the kernel as one packet", "[udp_segmentation][udp_driver]") {
    const test::loopback_socket rx(SOL_UDP, UDP_GRO);
    const int fd = rx.fd;

    queue_core core;
    core.queued = bulk(endpoint{ip_address::v4(0x7F000001), rx.port});
    io::udp_driver driver(core, endpoint{ip_address::v4(0x7F000001), 0}, null_logger());
    driver.post([&](timestamp) { driver.stop(); });
    driver.run();

    // The receiving socket asked for runs whole: each message is a run, with its segment size.
    std::vector<std::uint8_t> all;
    int largest_run = 0;
    for (;;) {
        std::vector<std::uint8_t> data(65536);
        alignas(cmsghdr) char control[64];
        iovec v{data.data(), data.size()};
        msghdr h{};
        h.msg_iov = &v;
        h.msg_iovlen = 1;
        h.msg_control = control;
        h.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(fd, &h, MSG_DONTWAIT);
        if (n < 0) break;
        int segment = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) std::memcpy(&segment, CMSG_DATA(c), sizeof segment);
        if (segment > 0) {
            CHECK(segment == 1000);
            largest_run = std::max(largest_run, static_cast<int>((n + segment - 1) / segment));
        }
        all.insert(all.end(), data.begin(), data.begin() + n);
    }
    REQUIRE(all.size() == 40 * 1000 + 500);
    CHECK(largest_run > 1);
    for (std::size_t i = 0; i < all.size(); ++i) REQUIRE(all[i] == i / 1000);
}

TEST_CASE("udp_driver: runs received whole reach the core as their datagrams, in order", "[udp_segmentation][udp_driver]") {
    queue_core receiver;
    io::udp_driver rx(receiver, endpoint{ip_address::v4(0x7F000001), 0}, null_logger());
    queue_core sender;
    sender.queued = bulk(rx.local_endpoint());
    io::udp_driver tx(sender, endpoint{ip_address::v4(0x7F000001), 0}, null_logger());
    tx.post([&](timestamp) { tx.stop(); });
    tx.run();
    const auto expected = bulk(rx.local_endpoint());
    receiver.on_received = [&] {
        if (receiver.received.size() == expected.size()) rx.stop();
    };
    rx.schedule(std::chrono::seconds(5), [&](timestamp) { rx.stop(); });   // only if datagrams are missing
    rx.run();

    REQUIRE(receiver.received.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK(receiver.received[i] == expected[i].payload);
}
