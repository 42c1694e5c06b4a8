#ifndef SIFU_SEND_H
#define SIFU_SEND_H
#include <node_api.h>
napi_value sifu_send(napi_env env, napi_callback_info info);
#endif
