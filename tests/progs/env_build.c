/*
 * The shim's child environments, built outside the shim: shim_env.c is
 * compiled into this program (not preloaded), and child_env_build runs
 * on random environments into buffers of exactly the planned size with
 * guard bytes after them: it must never write past what it planned (it
 * runs on the stack of a vfork child).  Each result must have one
 * LD_PRELOAD with the shim first, the configuration once, and ORIG
 * variables that decode to the environment's own values.
 */
#include "tracer/shim/shim_env.c"

#define ROUNDS 200000
#define GUARD 64		/* bytes checked after each buffer */

/* shim_env.c says a limit once through the reporter; not here */
void shim_say_once(enum shim_note note, const char *what)
{
}

static const char *const samples[] = {
	"LD_PRELOAD=", "LD_PRELOAD=libm.so.6", "LD_PRELOAD=a.so b.so",
	"LD_PRELOAD=/x/libpydeadlock.so", "PYTHONPATH=", "PYTHONPATH=/a:/b",
	"PYTHONPATH=/dirs:/orig", "PYTHONPATH=/dirs", "PYDEADLOCK_TEST_MARK=",
	"PYDEADLOCK_OTHER=1", "A=1", "B=", "NO_EQUALS_SIGN",
};
#define N_SAMPLES (sizeof(samples) / sizeof(samples[0]))

static void fail(const char *what, int round)
{
	fprintf(stderr, "env_build: round %d: %s\n", round, what);
	exit(1);
}

/* The value of name in env (first), or NULL. */
static const char *value_of(char *const *env, const char *name)
{
	size_t len = strlen(name);

	for (; env && *env; env++)
		if (env_is(*env, name, len))
			return *env + len + 1;
	return NULL;
}

/* How many entries of env define name. */
static int count_of(char *const *env, const char *name)
{
	int n = 0;

	for (; env && *env; env++)
		n += env_is(*env, name, strlen(name));
	return n;
}

/* Does ENC say what the environment's own value was? */
static bool orig_says(const char *enc, const char *own)
{
	const char *v;
	int state = preload_env_orig_decode(enc, &v);

	return own ? state == 1 && !strcmp(v, own) : state == 0;
}

static void check(char *const *envp, char *const *vec, int round)
{
	const char *ld = value_of(vec, "LD_PRELOAD");
	const char *own_ld = value_of(envp, "LD_PRELOAD");
	const char *own_pp = value_of(envp, "PYTHONPATH");
	const char *pp_enc = value_of(vec, PRELOAD_ENV_ORIG_PYTHONPATH);

	int marks = count_of(envp, "PYDEADLOCK_TEST_MARK");

	if (!ld || !preload_env_list_has(ld, "libpydeadlock.so"))
		fail("no shim on LD_PRELOAD", round);
	if (!preload_env_list_has(own_ld, "libpydeadlock.so") &&
	    count_of(vec, "LD_PRELOAD") != 1)
		fail("LD_PRELOAD not exactly once", round);
	if (count_of(vec, "PYDEADLOCK_TEST_MARK") != (marks ? marks : 1))
		fail("the configuration added to the program's", round);
	if (!orig_says(value_of(vec, PRELOAD_ENV_ORIG_LD_PRELOAD), own_ld))
		fail("ORIG_LD_PRELOAD is not the environment's own", round);
	if (python_made[0] && own_pp && !strcmp(own_pp, python_made) ?
	    strcmp(pp_enc, python_own) : !orig_says(pp_enc, own_pp))
		fail("ORIG_PYTHONPATH is not the environment's own", round);
	if (value_of(envp, "PYTHONPATH") != value_of(vec, "PYTHONPATH"))
		fail("PYTHONPATH changed", round);
}

int main(void)
{
	srand(1);
	strcpy(self_path, "/opt/lib/libpydeadlock.so");
	self_name = "libpydeadlock.so";
	config[0] = "PYDEADLOCK_TEST_MARK=m";
	config_name_len[0] = strlen("PYDEADLOCK_TEST_MARK");
	n_config = 1;
	for (int round = 0; round < ROUNDS; round++) {
		char *envp[16];
		int n = rand() % 15;
		struct child_env_plan p;
		char **vec;
		char *text;
		unsigned char *vec_end;

		for (int i = 0; i < n; i++)
			envp[i] = (char *)samples[rand() % N_SAMPLES];
		envp[n] = NULL;
		python_made[0] = python_own[0] = '\0';
		if (rand() % 2) {
			strcpy(python_made,
			       rand() % 2 ? "/dirs:/orig" : "/dirs");
			strcpy(python_own,
			       rand() % 2 ? "unset" : "set:/orig");
		}
		if (!child_env_plan(&p, envp))
			continue;
		vec = malloc((p.n + n_config + 4) * sizeof(char *) + GUARD);
		text = malloc(p.text + GUARD);
		vec_end = (unsigned char *)(vec + p.n + n_config + 4);
		memset(vec_end, 0xa5, GUARD);
		memset(text + p.text, 0xa5, GUARD);
		child_env_build(&p, vec, text);
		for (int i = 0; i < GUARD; i++)
			if (vec_end[i] != 0xa5 ||
			    (unsigned char)text[p.text + i] != 0xa5)
				fail("wrote past its plan", round);
		check(envp, vec, round);
		free(vec);
		free(text);
	}
	printf("%d environments built within their plan\n", ROUNDS);
	return 0;
}
