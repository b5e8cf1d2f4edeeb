//! The runtime support every Hazel plugin links.
//!
//! Plugins are `#![no_std]` WebAssembly components built for `wasm32-wasip2`.
//! Without Rust's `std` the component imports nothing but the `hazel:plugin`
//! interfaces its world names: no `wasi:*` interface at all, so the host has
//! nothing extra to link, stub or sandbox, and the component is less than
//! half the size (toolchain notes §1, option 3). The price is that the few
//! things `std` and wasi-libc normally supply must come from somewhere;
//! this crate supplies them:
//!
//! | piece | why it exists |
//! |---|---|
//! | [`GlobalDlmalloc`](dlmalloc::GlobalDlmalloc) as `#[global_allocator]` | `alloc` (`String`, `Vec`, generated bindings) needs an allocator; dlmalloc grows linear memory with `memory.grow`, which the host's store limiter bounds |
//! | `#[panic_handler]` | `no_std` binaries must define one; ours traps with `unreachable` and prints nothing, since there is no stderr and formatting would cost size |
//! | `cabi_realloc` | the canonical ABI calls this export to allocate guest memory for strings and lists the host passes in. On `wasm32-wasip2` wit-bindgen expects wasi-libc to provide it, and a `no_std` guest links no libc |
//! | [`InstanceCell`] | exports are free functions, so a plugin keeps its per-instance state in a `static`; the instance is single-threaded and exports are never re-entered, which this cell encodes |
//! | `memcmp` | `core` lowers byte-slice comparisons (`==`, `Ord` on `str`, map lookups) to this libc call; `memcpy`/`memset` become bulk-memory instructions, but comparisons have no instruction. Without it linking fails with "failed to resolve import `env::memcmp`" (always in debug builds, and in release builds that compare strings, such as `dummy`) |
//!
//! A plugin uses it by depending on this crate and naming it once so it is
//! linked: `use hazel_guest_rt as _;`.
//!
//! On targets other than `wasm32` this crate is empty, so plugin crates can
//! run their unit tests natively with `std` without two allocators or two
//! panic handlers.
#![no_std]
#![deny(missing_docs)]

#[cfg(target_arch = "wasm32")]
pub use wasm::InstanceCell;

#[cfg(target_arch = "wasm32")]
mod wasm {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::RefCell;

    /// Per-instance mutable state for a plugin's `static`.
    ///
    /// A component instance runs on one thread and the host calls one
    /// export at a time, never re-entering the guest from an import, so a
    /// `RefCell` is enough and sharing it between "threads" cannot happen.
    /// A nested borrow would be a plugin bug; it panics, which traps.
    pub struct InstanceCell<T>(RefCell<T>);

    // SAFETY: wasm32 guests of this workspace are built without the threads
    // proposal (no shared memory, no atomics), so a static is only ever
    // touched by the single thread that runs the instance.
    unsafe impl<T> Sync for InstanceCell<T> {}

    impl<T> InstanceCell<T> {
        /// A cell holding `value`; usable in a `static` initializer.
        pub const fn new(value: T) -> Self {
            InstanceCell(RefCell::new(value))
        }

        /// Run `f` with exclusive access to the state.
        pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
            f(&mut self.0.borrow_mut())
        }
    }

    /// The guest's heap. dlmalloc is small, fast enough for a driver, and
    /// asks the host for pages with `memory.grow`, so the store's memory
    /// limit applies to it.
    #[global_allocator]
    static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

    /// A panic traps the instance. The host sees a trap, logs it against the
    /// device and restarts the instance; the guest cannot print anything
    /// useful itself (it has no output stream) and the formatting machinery
    /// would bloat every plugin.
    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }

    /// Allocation entry point of the component model's canonical ABI: the
    /// host calls it to place strings and lists in guest memory before an
    /// export runs, and lifted results are freed through the allocator.
    ///
    /// Semantics follow `wit_bindgen::rt::cabi_realloc`: `old_len == 0`
    /// allocates, otherwise reallocates; a zero-sized request returns a
    /// dangling, well-aligned pointer. Running out of memory traps instead of
    /// returning null, because the caller (the host's lowering code) has no
    /// way to handle null.
    ///
    /// # Safety
    ///
    /// Called by the canonical ABI only: `align` must be a power of two, and
    /// `old_ptr`/`old_len`/`align` must describe a block this allocator
    /// returned (or `old_len` must be 0).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn cabi_realloc(old_ptr: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
        if new_len == 0 {
            // Nothing to store: any non-null aligned address will do, and
            // the ABI never frees it.
            return align as *mut u8;
        }
        let ptr = unsafe {
            if old_len == 0 {
                let layout = Layout::from_size_align_unchecked(new_len, align);
                ALLOCATOR.alloc(layout)
            } else {
                let layout = Layout::from_size_align_unchecked(old_len, align);
                ALLOCATOR.realloc(old_ptr, layout, new_len)
            }
        };
        if ptr.is_null() {
            core::arch::wasm32::unreachable();
        }
        ptr
    }

    /// libc `memcmp`: compare `len` bytes, returning the sign of the first
    /// difference. `core`'s slice comparisons call it; without libc nothing
    /// else provides it ("failed to resolve import env::memcmp").
    ///
    /// # Safety
    ///
    /// `left` and `right` must be valid for reads of `len` bytes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcmp(left: *const u8, right: *const u8, len: usize) -> i32 {
        let mut index = 0;
        while index < len {
            // SAFETY: index < len and the caller guarantees both ranges.
            let (a, b) = unsafe { (*left.add(index), *right.add(index)) };
            if a != b {
                return i32::from(a) - i32::from(b);
            }
            index += 1;
        }
        0
    }
}
