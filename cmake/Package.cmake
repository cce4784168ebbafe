# `cpack -G DEB` (scripts/package.sh): one Debian package, mediabatch_<version>_<arch>.deb, of
# everything `cmake --install` puts under /usr. Its Depends line comes from dpkg-shlibdeps over
# the program, libmediabatch-core and the encoder modules, so apt pulls exactly the libraries
# they load; the package's own shlibs file and ldconfig trigger come with it.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mediabatch)
set(CPACK_PACKAGE_VENDOR "mediabatch")
set(CPACK_PACKAGE_CONTACT "mediabatch developers <mediabatch-devel@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "convert many media files on every core, one in-process job per file")
set(CPACK_PACKAGE_DESCRIPTION
  "mediabatch runs one job per input file on a task arena bounded to the cores given: photos to
thumbnails (JPEG, HEIC, AVIF, PNG, TIFF, WebP, GIF), DICOM to windowed PNG, WAV to tagged FLAC
with cue sheets and ReplayGain, videos to Theora/Vorbis in Matroska, or any program per file
(exec). A file that fails or crashes a library fails alone; outputs appear atomically.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION video)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The modules link libmediabatch-core, which is in this package: dpkg-shlibdeps finds it here.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR})
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
include(CPack)
