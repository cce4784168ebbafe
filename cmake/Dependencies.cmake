# Every external dependency of mediabatch, in one place. All come from Debian 12 packages
# (scripts/install-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(TBB CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)

# Media libraries, one group per encoder that needs them.
pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET libavformat libavcodec libavfilter libavutil libswscale
  libswresample)
pkg_check_modules(THEORA REQUIRED IMPORTED_TARGET theoraenc)  # libtheora itself, for its speed levels
pkg_check_modules(MAGICKPP REQUIRED IMPORTED_TARGET Magick++)
pkg_check_modules(FLACPP REQUIRED IMPORTED_TARGET flac++ flac)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
pkg_check_modules(JPEG REQUIRED IMPORTED_TARGET libjpeg)        # libjpeg-turbo's classic API
pkg_check_modules(LCMS2 REQUIRED IMPORTED_TARGET lcms2)         # ICC profiles of photos
pkg_check_modules(HEIF REQUIRED IMPORTED_TARGET libheif)        # HEIC and AVIF photos
pkg_check_modules(EBUR128 REQUIRED IMPORTED_TARGET libebur128)
pkg_check_modules(PNG REQUIRED IMPORTED_TARGET libpng)
pkg_check_modules(WEBP REQUIRED IMPORTED_TARGET libwebp)        # WebP thumbnails
pkg_check_modules(DEFLATE REQUIRED IMPORTED_TARGET libdeflate)
find_package(GDCM CONFIG REQUIRED)

if(MEDIABATCH_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
