// Types of the `parley-chat` package: the options of `load()`, the chat's calls, and the events
// the widget dispatches on `window`.

/** A request to the runtime (Voiceflow Dialog API): `{ type: 'text', payload: 'hi' }`, a path
 * name answering a custom action (`{ type: 'success' }`), `{ type: 'intent', payload: … }`. */
export interface Request {
  type: string;
  payload?: unknown;
  [key: string]: unknown;
}

/** One trace of a turn, as the runtime sent it. */
export interface Trace {
  type: string;
  payload?: unknown;
  [key: string]: unknown;
}

/** A response extension draws a trace into the element it is given (a line of the transcript). */
export interface ResponseExtension {
  name: string;
  type: 'response';
  match(context: { trace: Trace }): boolean;
  render?(context: { trace: Trace; element: HTMLElement }): void | (() => void);
}

/** An effect extension runs when an answer holding a matching trace arrives. */
export interface EffectExtension {
  name: string;
  type: 'effect';
  match(context: { trace: Trace }): boolean;
  effect?(context: { trace: Trace }): void | Promise<void>;
}

/** Voiceflow's extension shape (`assistant.extensions`): the first that matches takes the
 * trace, effects before responses. */
export type Extension = ResponseExtension | EffectExtension;

export interface LoadOptions {
  /** Required: namespaces the saved conversation. */
  verify: { projectID: string };
  /** The runtime, an http(s) URL or a path on this site. Default: this page's origin (the
   * script tag's loader: the server that served it). */
  url?: string;
  /** A version id, or `development` (default) or `production`. Stateful: sent only when
   * given (the runtime's default otherwise, as Voiceflow's widget). */
  versionID?: string;
  /** A key, when the project has keys. Stateful: the keyed route instead of the public one. */
  apiKey?: string;
  /** `stateless` (default: the state is kept in the browser) or `stateful`. */
  mode?: 'stateless' | 'stateful';
  /** The stateful user id; made once and kept when not given. */
  userID?: string;
  /** The user: the picture shows by their messages, named by `name`. */
  user?: { name?: string; image?: string };
  /** The request that starts each conversation. Default: `{ type: 'launch' }`. */
  launch?: { event?: Request };
  /** Refused: Parley never renders raw HTML (a console warning says so when `true`). */
  allowDangerousHTML?: boolean;
  /** The widget's language: `en`, `de` or `ar` (a region such as `de-AT` falls back to its
   * language). Default: the page's `<html lang>` when shipped, else English. Arabic is laid
   * out right to left. */
  locale?: string;
  assistant?: {
    /** Default: the locale's word for "chat". */
    title?: string;
    description?: string;
    image?: string;
    /** The accent colour, a CSS colour. */
    color?: string;
    /** `auto` (default: the visitor's `prefers-color-scheme`), `light` or `dark`. */
    theme?: 'light' | 'dark' | 'auto';
    /** A stylesheet for the widget's Shadow DOM root (`https`, `http` or a path on this
     * site; of an array, the first). Its rules win over the widget's. */
    stylesheet?: string | string[];
    /** Voiceflow's extensions: they take the traces the widget does not draw itself. */
    extensions?: Extension[];
  };
  render?: { mode?: 'overlay' } | { mode: 'embedded'; target: string | Element };
  /** Open at once. */
  autostart?: boolean;
  /** Where the conversation is kept. Default: `localStorage`. */
  persistence?: 'localStorage' | 'sessionStorage' | 'memory';
}

export interface Chat {
  readonly version: string;
  load(options: LoadOptions): Promise<Chat>;
  open(): Promise<void>;
  close(): Promise<void>;
  show(): Promise<void>;
  hide(): Promise<void>;
  /** Sends a request as the user would, e.g. the path that answers a custom action. */
  interact(request: Request): Promise<void>;
  /** Forgets the conversation and starts a new one. */
  reset(): Promise<void>;
  /** Removes the widget and its listeners. */
  destroy(): Promise<void>;
  proactive: {
    /** Messages shown by the launcher before a conversation starts. */
    push(...traces: Trace[]): Promise<void>;
    clear(): Promise<void>;
  };
}

/** The bundle's version: the script tag's loader and the package refuse to mix versions. */
export declare const version: string;
/** Fetches and starts the app once, then loads the chat; resolves to the chat. */
export declare function load(options: LoadOptions): Promise<Chat>;
export declare const chat: Chat;
export declare const open: Chat['open'];
export declare const close: Chat['close'];
export declare const show: Chat['show'];
export declare const hide: Chat['hide'];
export declare const interact: Chat['interact'];
export declare const reset: Chat['reset'];
export declare const destroy: Chat['destroy'];
export declare const proactive: Chat['proactive'];
export default chat;

export interface ActionDetail {
  /** The custom action's name. */
  type: string;
  /** The paths the flow waits on: answer with `interact({ type: path })`. */
  paths: string[];
  trace: Trace;
}

declare global {
  interface WindowEventMap {
    'parley:ready': Event;
    'parley:open': CustomEvent<null>;
    'parley:close': CustomEvent<null>;
    'parley:action': CustomEvent<ActionDetail>;
    'parley:error': CustomEvent<{ message: string }>;
    'parley:message': CustomEvent<{ text: string }>;
    'parley:trace': CustomEvent<Trace>;
  }
}
