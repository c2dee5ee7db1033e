// The precompiled headers' targets (cmake/precompiled_headers.cmake) need
// one source file; this one adds nothing.
