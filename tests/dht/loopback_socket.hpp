// A plain UDP socket on 127.0.0.1 and a port the kernel picks, closed when it goes out of
// scope: what the Asio edge's tests read the wire with. `level`/`option` turn on one
// receive option (IP_RECVTTL, UDP_GRO, ...).
#pragma once

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace ovl::test {

struct loopback_socket {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    std::uint16_t port = 0;

    loopback_socket(int level, int option) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port = ntohs(a.sin_port);
        const int on = 1;
        REQUIRE(::setsockopt(fd, level, option, &on, sizeof on) == 0);
    }
    ~loopback_socket() { ::close(fd); }
    loopback_socket(const loopback_socket&) = delete;
    loopback_socket& operator=(const loopback_socket&) = delete;
};

} // namespace ovl::test
