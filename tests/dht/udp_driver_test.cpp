// The Asio edge on real loopback sockets: what a core asks of a datagram (its TTL, the
// extra socket it leaves from) is what goes out on the wire.
#include "dht/io/udp_driver.hpp"
#include "loopback_socket.hpp"
#include "queue_core.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <string>

using namespace ovl;

namespace {

// A plain socket on 127.0.0.1 that reports each datagram's TTL.
struct ttl_receiver {
    test::loopback_socket socket{IPPROTO_IP, IP_RECVTTL};
    const int fd = socket.fd;
    const std::uint16_t port = socket.port;

    // payload -> (TTL, source port) of every datagram waiting.
    std::map<std::string, std::pair<int, std::uint16_t>> drain() {
        std::map<std::string, std::pair<int, std::uint16_t>> out;
        for (;;) {
            char data[64];
            alignas(cmsghdr) char control[64];
            sockaddr_in from{};
            iovec v{data, sizeof data};
            msghdr h{};
            h.msg_name = &from;
            h.msg_namelen = sizeof from;
            h.msg_iov = &v;
            h.msg_iovlen = 1;
            h.msg_control = control;
            h.msg_controllen = sizeof control;
            const ssize_t n = ::recvmsg(fd, &h, MSG_DONTWAIT);
            if (n < 0) return out;
            int ttl = -1;
            for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
                if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
            out[std::string(data, static_cast<std::size_t>(n))] = {ttl, ntohs(from.sin_port)};
        }
    }
};

outgoing_datagram datagram(std::uint16_t port, const std::string& text, std::uint8_t ttl, std::uint16_t socket = 0) {
    outgoing_datagram d{endpoint{ip_address::v4(0x7F000001), port}, bytes(text.begin(), text.end())};
    d.ttl = ttl;
    d.socket = socket;
    return d;
}

int default_ttl() {
    std::ifstream f("/proc/sys/net/ipv4/ip_default_ttl");
    int ttl = 64;
    f >> ttl;
    return ttl;
}

} // namespace

TEST_CASE("udp_driver: a datagram's TTL goes on the wire, from the core's socket and from extra sockets",
          "[udp_driver]") {
    ttl_receiver rx;
    test::queue_core core;
    core.queued.push_back(datagram(rx.port, "short", 5));
    core.queued.push_back(datagram(rx.port, "default", 0));
    core.queued.push_back(datagram(rx.port, "extra short", 3, 1));
    core.queued.push_back(datagram(rx.port, "extra default", 0, 2));
    io::udp_driver driver(core, endpoint{ip_address::v4(0x7F000001), 0}, null_logger());
    driver.post([&](timestamp) { driver.stop(); });
    driver.run();

    const auto got = rx.drain();
    REQUIRE(got.size() == 4);
    const auto own_port = driver.local_endpoint().port;
    CHECK(got.at("short") == std::pair<int, std::uint16_t>{5, own_port});
    CHECK(got.at("default") == std::pair<int, std::uint16_t>{default_ttl(), own_port});
    CHECK(got.at("extra short").first == 3);
    CHECK(got.at("extra default").first == default_ttl());
    CHECK(got.at("extra short").second != own_port);
    CHECK(got.at("extra default").second != got.at("extra short").second);
}
