#include "cli/udp_check.hpp"

#include "dht/krpc/codec.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace ovl::cli {

bool udp_answers(const std::vector<endpoint>& nodes, duration timeout) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    // A read-only ping: nobody adds a node that is about to go away to its routing table.
    auto ping = krpc::message::query("up", "ping", {{"id", std::string(20, '\0')}});
    ping.read_only = true;
    const auto datagram = krpc::encode(ping);
    for (const auto& n : nodes) {
        if (!n.address.is_v4()) continue;
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(n.port);
        ::inet_pton(AF_INET, n.address.to_string().c_str(), &addr.sin_addr);
        ::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    }
    pollfd p{fd, POLLIN, 0};
    const auto ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
    int n;
    do n = ::poll(&p, 1, ms);
    while (n < 0 && errno == EINTR);
    ::close(fd);
    return n > 0;
}

} // namespace ovl::cli
