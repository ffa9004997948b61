// swift-tools-version:5.9
// Sluice for iOS: a Swift API over the C ABI in ../include/sluice.h.
// The binary target is built by ../build-xcframework.sh (needs Xcode).
import PackageDescription

let package = Package(
    name: "Sluice",
    platforms: [.iOS(.v13), .macOS(.v12)],
    products: [
        .library(name: "Sluice", targets: ["Sluice"]),
    ],
    targets: [
        .binaryTarget(name: "SluiceFFI", path: "SluiceFFI.xcframework"),
        .target(
            name: "Sluice",
            dependencies: ["SluiceFFI"],
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),
    ]
)
