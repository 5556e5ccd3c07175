/* tests/deps/hello.c - proves the static third-party libraries of build/deps/$ARCH link and
 * work: one call into each of libpq, libcurl, jansson, OpenSSL (libcrypto and libssl) and zlib,
 * and that the C library starts a thread and a process (as gosling's bounded host name lookups
 * and cancel requests do: under qemu-user, a loader and a libc.so.6 of two glibc builds hang
 * there).  Prints one line per library; exits non-zero when a result is wrong. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <zlib.h>

static void *
thread_main(void *arg)
{
	*(int *)arg = 42;
	return NULL;
}

int main(void)
{
	int bad = 0;
	int answer = 0, status = -1;
	pthread_t t;
	pid_t child;

	if (pthread_create(&t, NULL, thread_main, &answer) != 0 || pthread_join(t, NULL) != 0 || answer != 42)
		bad = 1;
	fflush(stdout);
	if ((child = fork()) == 0)
		_exit(7);
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 7)
		bad = 1;
	printf("libc a thread answered %d, a child exited %d\n", answer, WIFEXITED(status) ? WEXITSTATUS(status) : -1);

	int pqv = PQlibVersion();
	printf("libpq %d.%d\n", pqv / 10000, pqv % 10000);
	if (pqv < 150000 || pqv >= 160000)
		bad = 1;

	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	printf("curl %s\n", curl_version());
	if (!(cv->features & CURL_VERSION_SSL))
		bad = 1;
	for (const char *const *p = cv->protocols; *p; p++)
		if (strcmp(*p, "http") != 0 && strcmp(*p, "https") != 0) {
			printf("unexpected curl protocol %s\n", *p);
			bad = 1;
		}

	json_t *obj = json_pack("{s:s, s:i}", "hello", "world", "n", 42);
	char *js = obj ? json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	printf("jansson %s %s\n", JANSSON_VERSION, js ? js : "(null)");
	if (!js || strcmp(js, "{\"hello\":\"world\",\"n\":42}") != 0)
		bad = 1;
	free(js);
	json_decref(obj);

	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)"abc", 3, md);
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	printf("openssl %s sha256(abc)=%s\n", OpenSSL_version(OPENSSL_VERSION), hex);
	if (strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != 0)
		bad = 1;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		bad = 1;
	SSL_CTX_free(ctx);

	unsigned long crc = crc32(0L, (const Bytef *)"abc", 3);
	printf("zlib %s crc32(abc)=%08lx\n", zlibVersion(), crc);
	if (crc != 0x352441c2UL)
		bad = 1;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		bad = 1;
	CURL *h = curl_easy_init();
	if (!h)
		bad = 1;
	curl_easy_cleanup(h);
	curl_global_cleanup();

	puts(bad ? "FAIL" : "OK");
	return bad;
}
