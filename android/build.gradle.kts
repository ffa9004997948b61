// Android library module for Sluice: the Kotlin API from kotlin/src/main and the
// native libraries that build-aar.sh puts in jniLibs/ (needs the Android NDK and cargo-ndk).
// Include it in an app's build with `includeBuild("path/to/sluice/android")` or as a
// module (`include(":sluice")` with `projectDir` here); settings.gradle.kts pins the plugins.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.sluice"
    compileSdk = 35
    defaultConfig {
        // registerDefaultNetworkCallback (the network wiring of Sluice.start) is API 24.
        minSdk = 24
        consumerProguardFiles("proguard-rules.pro")
    }
    sourceSets["main"].apply {
        java.srcDirs("kotlin/src/main/kotlin")
        jniLibs.srcDirs("jniLibs")
        manifest.srcFile("AndroidManifest.xml")
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}

val cargoBuild by tasks.registering(Exec::class) {
    description = "Builds libsluice_android.so for every ABI (build-aar.sh --libs-only)"
    commandLine("./build-aar.sh", "--libs-only")
}
tasks.named("preBuild") { dependsOn(cargoBuild) }
