#include "rpcinvoker.h"

namespace sparky::admin {

RpcInvoker::~RpcInvoker() = default;

} // namespace sparky::admin
