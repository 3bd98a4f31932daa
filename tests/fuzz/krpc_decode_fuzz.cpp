// libFuzzer target: the KRPC decoder (bencode parsing plus message validation), and the
// encoder on whatever decoded, which must produce something that decodes again.
#include "dht/krpc/codec.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto result = ovl::krpc::decode({data, size});
    if (auto* m = std::get_if<ovl::krpc::message>(&result)) {
        auto bytes = ovl::krpc::encode(*m);
        auto again = ovl::krpc::decode(bytes);
        if (!std::holds_alternative<ovl::krpc::message>(again)) std::abort();
    }
    return 0;
}
