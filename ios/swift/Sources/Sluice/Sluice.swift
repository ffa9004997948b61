import Foundation
import SluiceFFI

/// Priority of an event: `low` is evicted first when the disk quota is full; `high` never is.
public enum SluicePriority: Int32, Sendable {
    case low = 0
    case normal = 1
    case high = 2
}

/// The connectivity the app reports (`Sluice.start` follows `NWPathMonitor` by itself).
public enum SluiceNetwork: Int32, Sendable {
    case offline = 0
    case metered = 1
    case unmetered = 2
}

/// A failed Sluice call. The cases are the C ABI's `SLUICE_ERR_*` codes (whose one
/// home is the core's `mobile::status`); each carries the library's message.
public enum SluiceError: Error, CustomStringConvertible, Sendable {
    case argument(String)
    case closed(String)
    case config(String)
    case storage(String)
    case full(String)
    case panic(String)
    case other(String)

    /// The error for a negative status code, with this thread's last message; nil for success codes.
    init?(status: Int32) {
        guard status < 0 else { return nil }
        let message = String(cString: sluice_last_error())
        switch status {
        case SLUICE_ERR_ARGUMENT: self = .argument(message)
        case SLUICE_ERR_CLOSED: self = .closed(message)
        case SLUICE_ERR_CONFIG: self = .config(message)
        case SLUICE_ERR_STORAGE: self = .storage(message)
        case SLUICE_ERR_FULL: self = .full(message)
        case SLUICE_ERR_PANIC: self = .panic(message)
        default: self = .other(message)
        }
    }

    static func check(_ status: Int32) throws {
        if let error = SluiceError(status: status) {
            throw error
        }
    }

    public var description: String {
        switch self {
        case let .argument(m): return "sluice: invalid argument: \(m)"
        case let .closed(m): return "sluice: closed: \(m)"
        case let .config(m): return "sluice: configuration: \(m)"
        case let .storage(m): return "sluice: storage: \(m)"
        case let .full(m): return "sluice: full: \(m)"
        case let .panic(m): return "sluice: internal error: \(m)"
        case let .other(m): return "sluice: \(m)"
        }
    }
}

/// Why uploads are paused (the C ABI's `SLUICE_PAUSED_*`).
public enum SluicePauseReason: Int32, Sendable {
    case uploadDisabled = 1
    case offline = 2
    case lowBattery = 3
    case meteredNetwork = 4
    case meteredBudgetSpent = 5
}

/// The counters of `Sluice.stats()` (the C ABI's `SluiceStats`).
public struct SluiceStats: Sendable, Equatable {
    public let pendingEvents: UInt64
    public let pendingBytes: UInt64
    public let bufferedEvents: UInt64
    public let recorded: UInt64
    public let delivered: UInt64
    public let evicted: UInt64
    public let expired: UInt64
    public let refused: UInt64
    public let quarantined: UInt64
    /// Events `record` did not take (invalid, the buffer full past its bound, uploads off).
    public let dropped: UInt64
    /// Events deleted by `purge` or by turning uploads off.
    public let purged: UInt64
    public let meteredBytesToday: UInt64
    /// When the last batch was acknowledged (ms since the epoch), nil before the first.
    public let lastUploadMillis: UInt64?
    public let network: SluiceNetwork
    public let uploadEnabled: Bool
    /// Nil while uploads may go.
    public let uploadsPaused: SluicePauseReason?

    init(_ s: SluiceFFI.SluiceStats) {
        pendingEvents = s.pending_events
        pendingBytes = s.pending_bytes
        bufferedEvents = s.buffered_events
        recorded = s.recorded
        delivered = s.delivered
        evicted = s.evicted
        expired = s.expired
        refused = s.refused
        quarantined = s.quarantined
        dropped = s.dropped
        purged = s.purged
        meteredBytesToday = s.metered_bytes_today
        lastUploadMillis = s.last_upload_ms == 0 ? nil : s.last_upload_ms
        network = SluiceNetwork(rawValue: s.network) ?? .offline
        uploadEnabled = s.upload_enabled
        uploadsPaused = SluicePauseReason(rawValue: s.uploads_paused)
    }
}

/// A durable event queue that uploads when the phone's policy allows.
///
/// `Sluice.start(config:)` opens the app's queue and follows the network, the
/// app's lifecycle and power by itself; `init(directory:config:uploader:)` is the
/// same queue for apps that report those themselves. Record from any thread:
/// `record` never throws and never waits on the network; what it could not take
/// returns false and is counted in `stats().dropped`. Only opening and
/// `setConfig` throw, for a configuration or a store that cannot work.
///
/// Uploads go out through the app's HTTP stack: `uploader` (by default
/// `URLSessionUploader`) runs on a thread that sleeps while nothing is pending.
public final class Sluice: @unchecked Sendable {
    // The handle is a number in the core's table, safe to use from any thread;
    // `closed` is guarded by `lock`.
    private let handle: OpaquePointer
    private let lock = NSLock()
    private var closed = false
    var platform: SluicePlatform?

    /// Opens (or recovers) the store in `directory` with a TOML configuration
    /// (`[mobile]` policy and `[sinks.*]` upstreams); `uploader` sends the requests.
    public init(directory: URL, config: String, uploader: SluiceUploader? = nil) throws {
        var out: OpaquePointer?
        try SluiceError.check(sluice_open(directory.path, config, &out))
        guard let handle = out else {
            throw SluiceError.other("sluice_open returned no handle")
        }
        self.handle = handle
        UploadLoop.start(handle, uploader ?? URLSessionUploader())
    }

    deinit {
        close()
    }

    /// Records an event; true once it is buffered. Never throws, never waits on the network.
    @discardableResult
    public func record(_ body: Data, headers: [String: String] = [:], priority: SluicePriority = .normal) -> Bool {
        call(body, headers, priority, sync: false)
    }

    /// Records a UTF-8 text event.
    @discardableResult
    public func record(_ text: String, headers: [String: String] = [:], priority: SluicePriority = .normal) -> Bool {
        call(Data(text.utf8), headers, priority, sync: false)
    }

    /// Records an event and returns once it is committed to disk: true if it was.
    @discardableResult
    public func recordSync(_ body: Data, headers: [String: String] = [:], priority: SluicePriority = .normal) -> Bool {
        call(body, headers, priority, sync: true)
    }

    /// Commits and uploads now if the policy allows; true when everything was
    /// acknowledged within `timeout` seconds. Blocks: see the `async` form.
    @discardableResult
    public func flush(timeout: TimeInterval = 10) -> Bool {
        let millis = UInt32(max(0, min(timeout * 1000, Double(UInt32.max))))
        return sluice_flush(handle, millis) == SLUICE_OK
    }

    /// `flush` off the caller's thread.
    @discardableResult
    public func flush(timeout: TimeInterval = 10) async -> Bool {
        await Sluice.detached { self.flush(timeout: timeout) }
    }

    /// Reports connectivity; offline stops uploads and retries.
    public func setNetwork(_ network: SluiceNetwork) {
        _ = sluice_set_network(handle, network.rawValue)
    }

    /// Reports the default network as `NWPathMonitor` describes it (`isExpensive`
    /// or `isConstrained` is metered; the core decides what it means).
    public func setNetworkState(available: Bool, validated: Bool, metered: Bool) {
        _ = sluice_set_network_state(handle, available, validated, metered)
    }

    /// Reports power; uploads may pause on low battery unless charging.
    public func setPower(charging: Bool, lowBattery: Bool) {
        _ = sluice_set_power(handle, charging, lowBattery)
    }

    /// Reports the battery as the platform does (`levelPercent` -1 when unknown; Low Power Mode).
    public func setBattery(charging: Bool, levelPercent: Int32, powerSave: Bool) {
        _ = sluice_set_battery(handle, charging, levelPercent, powerSave)
    }

    /// Reports the lifecycle; going to background starts an upload within the configured bound.
    public func setForeground(_ foreground: Bool) {
        _ = sluice_set_foreground(handle, foreground)
    }

    /// The user's consent (Glean's name). False: no upload starts from now on,
    /// everything stored is deleted, `record` takes nothing, and the choice is kept
    /// across restarts. True: starts afresh. False when it could not be persisted.
    @discardableResult
    public func setUploadEnabled(_ enabled: Bool) -> Bool {
        sluice_set_upload_enabled(handle, enabled) == SLUICE_OK
    }

    /// Deletes every stored event not being uploaded right now; how many went.
    @discardableResult
    public func purge() -> UInt64 {
        var purged: UInt64 = 0
        _ = sluice_purge(handle, &purged)
        return purged
    }

    /// Moves to a new configuration (the same TOML as `init`): a changed sink is
    /// rebuilt after its upload in flight finishes, a changed `[mobile]` policy
    /// applies at once, and everything recorded stays. Throws `.config` for invalid
    /// text or a change that needs a reopen. Waits for an upload in flight (at most
    /// 5 s): see the `async` form.
    public func setConfig(_ config: String) throws {
        try SluiceError.check(sluice_set_config(handle, config))
    }

    /// `setConfig` off the caller's thread.
    public func setConfig(_ config: String) async throws {
        let status = await Sluice.detached { sluice_set_config(self.handle, config) }
        try SluiceError.check(status)
    }

    /// Every counter as JSON, `last_error` included (for logs); nil once closed.
    public func statsJSON() -> String? {
        guard let raw = sluice_stats_json(handle) else { return nil }
        defer { sluice_string_free(raw) }
        return String(cString: raw)
    }

    /// The counters now; nil once closed.
    public func stats() -> SluiceStats? {
        var raw = SluiceFFI.SluiceStats()
        guard sluice_stats(handle, &raw) == SLUICE_OK else { return nil }
        return SluiceStats(raw)
    }

    /// Commits, stops uploading and the platform wiring, and releases the store.
    /// A second close does nothing. Waits for an upload in flight (at most 5 s).
    public func close() {
        lock.lock()
        let first = !closed
        closed = true
        lock.unlock()
        guard first else { return }
        platform?.stop()
        _ = sluice_close(handle)
    }

    /// `close` off the caller's thread.
    public func close() async {
        await Sluice.detached { self.close() }
    }

    /// What a `BGTask` runs: a flush within the core's budget; true when the task
    /// should be scheduled again.
    func runBackgroundTask() -> Bool {
        sluice_run_background_task(handle) == SLUICE_PENDING
    }

    /// Whether a background delivery task is wanted now (`SLUICE_JOB_*`).
    func backgroundJob() -> Int32 {
        sluice_background_job(handle)
    }

    private static func detached<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                continuation.resume(returning: work())
            }
        }
    }

    private func call(_ body: Data, _ headers: [String: String], _ priority: SluicePriority, sync: Bool) -> Bool {
        // C strings for the headers live until the call returns.
        let keys = headers.keys.map { strdup($0) }
        let values = headers.values.map { strdup($0) }
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        var pairs = zip(keys, values).map { SluiceHeader(key: UnsafePointer($0), value: UnsafePointer($1)) }
        let status: Int32 = body.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Int32 in
            let bytes = buffer.bindMemory(to: UInt8.self).baseAddress
            return pairs.withUnsafeMutableBufferPointer { list -> Int32 in
                if sync {
                    return sluice_record_sync(handle, bytes, body.count, list.baseAddress, list.count, priority.rawValue)
                }
                return sluice_record(handle, bytes, body.count, list.baseAddress, list.count, priority.rawValue)
            }
        }
        return status == SLUICE_OK
    }
}

/// The core's log records in the app's logging (`os_log`, say). Set once, early.
public enum SluiceLog {
    public enum Level: Int32, Sendable {
        case error = 1
        case warn = 2
        case info = 3
        case debug = 4
    }

    private static let box = HandlerBox()

    /// Sends the core's records up to `maxLevel` to `handler` (on Sluice's threads).
    public static func setHandler(maxLevel: Level = .warn, _ handler: @escaping @Sendable (Level, String) -> Void) {
        box.set(handler)
        _ = sluice_set_log_callback({ level, message, _ in
            guard let message = message else { return }
            SluiceLog.box.call(Level(rawValue: level) ?? .debug, String(cString: message))
        }, nil, maxLevel.rawValue)
    }

    private final class HandlerBox: @unchecked Sendable {
        private let lock = NSLock()
        private var handler: (@Sendable (Level, String) -> Void)?

        func set(_ handler: @escaping @Sendable (Level, String) -> Void) {
            lock.lock()
            self.handler = handler
            lock.unlock()
        }

        func call(_ level: Level, _ message: String) {
            lock.lock()
            let handler = self.handler
            lock.unlock()
            handler?(level, message)
        }
    }
}
